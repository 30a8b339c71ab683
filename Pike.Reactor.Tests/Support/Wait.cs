using System;
using System.Diagnostics;
using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>Drives a poller until a condition holds, with a deadline; fails the test when the deadline passes first.</summary>
public static class Wait
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public static void Until(BasePoller poller, Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = deadline ?? Deadline;
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds:0}s waiting for: {what}");
            }

            poller.Step(TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>Waits without a poller (for a peer socket or another thread).</summary>
    public static void For(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = deadline ?? Deadline;
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds:0}s waiting for: {what}");
            }

            System.Threading.Thread.Sleep(2);
        }
    }
}
