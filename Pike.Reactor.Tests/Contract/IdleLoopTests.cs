using System;
using System.Diagnostics;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>
/// An idle loop uses no CPU, measured on the loop thread and for the whole process. The process
/// figure counts every thread, so this class runs in <see cref="ProcessWideCollection"/>, alone.
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
        TimeSpan threadBefore = OsResources.ThreadCpuTime();
        TimeSpan processBefore = OsResources.ProcessCpuTime();
        var clock = Stopwatch.StartNew();
        poller.Loop(timeout);
        TimeSpan elapsed = clock.Elapsed;
        TimeSpan thread = OsResources.ThreadCpuTime() - threadBefore;
        TimeSpan process = OsResources.ProcessCpuTime() - processBefore;

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}: idle Loop({timeout.TotalMilliseconds} ms) took {elapsed.TotalMilliseconds:0} ms; CPU {thread.TotalMilliseconds:0} ms the loop thread, {process.TotalMilliseconds:0} ms the process");
        Assert.True(elapsed >= timeout - TimeSpan.FromMilliseconds(1), $"returned early, after {elapsed}");
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"returned late, after {elapsed}");

        // A spinning loop would burn the whole half second; a blocking one uses almost nothing.
        // The process may add a little of its own (the runtime's timer and tiering threads).
        Assert.True(thread < TimeSpan.FromMilliseconds(100), $"the loop thread used {thread.TotalMilliseconds} ms of CPU while idle ({process.TotalMilliseconds} ms the process)");
        Assert.True(process < TimeSpan.FromMilliseconds(150), $"the process used {process.TotalMilliseconds} ms of CPU while its loop idled ({thread.TotalMilliseconds} ms the loop thread)");
        Assert.Empty(idle.Calls);
    }
}
