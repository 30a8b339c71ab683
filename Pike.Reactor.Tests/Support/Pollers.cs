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

    /// <summary>io_uring with wake batching (IoUringPoller.WakeBatching, 50 µs): a lane names it in PIKE_TEST_POLLERS; Linux 6.12+.</summary>
    public const string IoUringBatching = "io_uring-batching";

    /// <summary>io_uring with receives through the ring (IoUringPoller.ReceivesThroughRing): a lane names it in PIKE_TEST_POLLERS; Linux 5.19+.</summary>
    public const string IoUringReceives = "io_uring-recv";

    public static IReadOnlyList<string> Names() => [.. KernelNames(), PikeStyle];

    /// <summary>The built-in pollers of this lane.</summary>
    public static IReadOnlyList<string> KernelNames()
    {
        string? chosen = Environment.GetEnvironmentVariable("PIKE_TEST_POLLERS");
        if (!string.IsNullOrWhiteSpace(chosen))
        {
            // io_uring-batching needs Linux 6.12; on an older kernel its cases are left out here
            // and IoUringWakeBatchingTests report themselves skipped, saying why.
            return chosen.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(name => name != IoUringBatching || IoUringBatchingAvailable).ToList();
        }

        return PollerFactory.Probe().Where(p => p.Available).Select(p => p.Name).ToList();
    }

    /// <summary>Whether io_uring's wake batching can be had here (Linux 6.12 and io_uring allowed).</summary>
    public static bool IoUringBatchingAvailable => BatchingProbe.Value;

    private static readonly Lazy<bool> BatchingProbe = new(() =>
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            CreateIoUringBatching().Dispose();
            return true;
        }
        catch (Exception error) when (error is PollerUnavailableException or NativeCallException)
        {
            Console.Error.WriteLine($"io_uring-batching is left out of this lane's pollers: {error.Message}");
            return false;
        }
    });

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)] // the Linux type is loaded on Linux only
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "A signature naming IoUringPoller would load the Linux assembly wherever Create is compiled.")]
    private static BasePoller CreateIoUringBatching() => new Pike.Reactor.Linux.IoUringPoller(wakeBatching: TimeSpan.FromMicroseconds(50));

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "A signature naming IoUringPoller would load the Linux assembly wherever Create is compiled.")]
    private static BasePoller CreateIoUringReceives() => new Pike.Reactor.Linux.IoUringPoller(receiveThroughRing: true);

    /// <summary>The name the poller made for <paramref name="name"/> reports (its <see cref="BasePoller.Name"/>, the metrics' tag).</summary>
    public static string Tag(string name) => name is IoUringBatching or IoUringReceives ? "io_uring" : name;

    /// <summary>A poller by name: the factory's, or the pike-style one.</summary>
    public static BasePoller Create(string name) => name switch
    {
        PikeStyle => new PikeSelectPoller(),
        IoUringBatching when OperatingSystem.IsLinux() => CreateIoUringBatching(),
        IoUringReceives when OperatingSystem.IsLinux() => CreateIoUringReceives(),
        _ => PollerFactory.Create(name),
    };
}
