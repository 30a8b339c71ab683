using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>
/// The pollers the contract suite runs on: every one PollerFactory.Probe() reports available
/// here, or those PIKE_TEST_POLLERS names (a comma-separated list, for one test lane), and on
/// every lane the pike-style poller of this project (<see cref="PikeSelectPoller"/>), which
/// overrides Poll only.
/// </summary>
public static class Pollers
{
    public static TheoryData<string> Available
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in Names())
            {
                data.Add(name);
            }

            return data;
        }
    }

    /// <summary>The built-in pollers only: for tests of what Poll itself does when called directly (a pike-style poller's Poll is its own override).</summary>
    public static TheoryData<string> Kernel
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in KernelNames())
            {
                data.Add(name);
            }

            return data;
        }
    }

    /// <summary>The name of the pike-style poller written in this project.</summary>
    public const string PikeStyle = "pike-select";

    public static IReadOnlyList<string> Names() => [.. KernelNames(), PikeStyle];

    /// <summary>The built-in pollers of this lane.</summary>
    public static IReadOnlyList<string> KernelNames()
    {
        string? chosen = Environment.GetEnvironmentVariable("PIKE_TEST_POLLERS");
        if (!string.IsNullOrWhiteSpace(chosen))
        {
            return chosen.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        return PollerFactory.Probe().Where(p => p.Available).Select(p => p.Name).ToList();
    }

    /// <summary>A poller by name: the factory's, or the pike-style one.</summary>
    public static BasePoller Create(string name) => name == PikeStyle ? new PikeSelectPoller() : PollerFactory.Create(name);
}
