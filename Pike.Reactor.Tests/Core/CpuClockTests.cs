using System;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Core;

/// <summary>
/// The CPU clocks the no-spin tests read: the thread clock must count the calling thread only
/// (under Wine too), or a busy neighbour would fail an idle loop, and a busy loop could hide
/// behind an idle process.
/// </summary>
[Trait("Lane", "core")]
[Collection(nameof(ProcessWideCollection))]
public class CpuClockTests
{
    [Fact]
    public void The_thread_clock_counts_only_the_calling_thread()
    {
        TimeSpan threadBefore = OsResources.ThreadCpuTime();
        TimeSpan processBefore = OsResources.ProcessCpuTime();
        TimeSpan spun = TimeSpan.Zero;
        var spinner = new Thread(() =>
        {
            // Burns 300 ms of its own CPU, then ends; the test thread sleeps meanwhile.
            TimeSpan start = OsResources.ThreadCpuTime();
            while ((spun = OsResources.ThreadCpuTime() - start) < TimeSpan.FromMilliseconds(300))
            {
                Thread.SpinWait(1000);
            }
        });
        spinner.Start();
        Assert.True(spinner.Join(TimeSpan.FromSeconds(30)), "the spinning thread did not end");
        TimeSpan thread = OsResources.ThreadCpuTime() - threadBefore;
        TimeSpan process = OsResources.ProcessCpuTime() - processBefore;

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"a neighbour spun {spun.TotalMilliseconds:0} ms: the sleeping thread's clock {thread.TotalMilliseconds:0} ms, the process clock {process.TotalMilliseconds:0} ms");
        Assert.True(spun >= TimeSpan.FromMilliseconds(300));
        Assert.True(process >= TimeSpan.FromMilliseconds(250), $"the process clock saw {process.TotalMilliseconds} ms of a 300 ms spin");
        Assert.True(thread < TimeSpan.FromMilliseconds(100), $"the sleeping thread's clock saw {thread.TotalMilliseconds} ms of another thread's 300 ms spin");
    }
}
