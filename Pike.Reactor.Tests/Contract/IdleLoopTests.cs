using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>
/// An idle loop uses no CPU, measured on the loop thread and for the whole process. The process
/// figure counts every thread, so this class runs in <see cref="ProcessWideCollection"/>, alone.
/// Even alone the process is not quiet (the test host, the coverage collector and the runtime's
/// tiering and GC threads used up to 155 ms of a 500 ms window on a loaded machine while the loop
/// thread used 1 ms), so the process figure is compared with a sleeping window of the same
/// length just before: a thread spinning anywhere in the process would add a whole window.
/// </summary>
[Trait("Lane", "contract")]
[Collection(nameof(ProcessWideCollection))]
public class IdleLoopTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Loop_with_a_timeout_returns_on_time_without_spinning(string name)
    {
        using BasePoller poller = PollerFactory.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var idle = new TestChannel(poller);
        idle.SetSocket(server);
        var timeout = TimeSpan.FromMilliseconds(500);

        poller.Loop(TimeSpan.FromMilliseconds(10)); // warm up (JIT) outside the measurement
        TimeSpan baselineBefore = OsResources.ProcessCpuTime();
        Thread.Sleep(timeout);
        TimeSpan baseline = OsResources.ProcessCpuTime() - baselineBefore;
        TimeSpan threadBefore = OsResources.ThreadCpuTime();
        TimeSpan processBefore = OsResources.ProcessCpuTime();
        var clock = Stopwatch.StartNew();
        poller.Loop(timeout);
        TimeSpan elapsed = clock.Elapsed;
        TimeSpan thread = OsResources.ThreadCpuTime() - threadBefore;
        TimeSpan process = OsResources.ProcessCpuTime() - processBefore;

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}: idle Loop({timeout.TotalMilliseconds} ms) took {elapsed.TotalMilliseconds:0} ms; CPU {thread.TotalMilliseconds:0} ms the loop thread, {process.TotalMilliseconds:0} ms the process ({baseline.TotalMilliseconds:0} ms while sleeping as long)");
        Assert.True(elapsed >= timeout - TimeSpan.FromMilliseconds(1), $"returned early, after {elapsed}");
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"returned late, after {elapsed}");

        // A spinning loop would burn the whole half second; a blocking one uses almost nothing.
        Assert.True(thread < TimeSpan.FromMilliseconds(100), $"the loop thread used {thread.TotalMilliseconds} ms of CPU while idle ({process.TotalMilliseconds} ms the process)");
        TimeSpan excess = process - baseline;
        Assert.True(excess < timeout / 2, $"the process used {process.TotalMilliseconds} ms of CPU while its loop idled, {baseline.TotalMilliseconds} ms while it slept as long ({thread.TotalMilliseconds} ms the loop thread)");
        Assert.Empty(idle.Calls);
    }
}
