using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>
/// The pollers the contract suite runs on: every one PollerFactory.Probe() reports available
/// here, or those PIKE_TEST_POLLERS names (a comma-separated list, for one test lane).
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

    public static IReadOnlyList<string> Names()
    {
        string? chosen = Environment.GetEnvironmentVariable("PIKE_TEST_POLLERS");
        if (!string.IsNullOrWhiteSpace(chosen))
        {
            return chosen.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        return PollerFactory.Probe().Where(p => p.Available).Select(p => p.Name).ToList();
    }
}
