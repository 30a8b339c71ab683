using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class TimerTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Timers_run_in_due_order_then_in_scheduling_order(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var order = new List<string>();
        poller.CallLater(TimeSpan.FromMilliseconds(60), () => order.Add("60"));
        poller.CallLater(TimeSpan.FromMilliseconds(20), () => order.Add("20a"));
        poller.CallLater(TimeSpan.FromMilliseconds(40), () => order.Add("40"));
        poller.CallLater(TimeSpan.FromMilliseconds(20), () => order.Add("20b"));
        poller.CallLater(TimeSpan.Zero, () => order.Add("0"));

        var clock = Stopwatch.StartNew();
        poller.Loop(); // runs until nothing is scheduled

        Assert.Equal(["0", "20a", "20b", "40", "60"], order);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(59), $"the last timer ran early, at {clock.Elapsed}");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_cancelled_timer_never_runs(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var ran = new List<string>();
        IDisposable cancelled = poller.CallLater(TimeSpan.FromMilliseconds(10), () => ran.Add("cancelled"));
        poller.CallLater(TimeSpan.FromMilliseconds(30), () => ran.Add("kept"));
        IDisposable cancelledByTimer = poller.CallLater(TimeSpan.FromMilliseconds(50), () => ran.Add("cancelled by a timer"));
        poller.CallLater(TimeSpan.FromMilliseconds(20), cancelledByTimer.Dispose);

        cancelled.Dispose();
        cancelled.Dispose(); // idempotent
        poller.Loop();

        Assert.Equal(["kept"], ran);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_timer_wakes_a_wait_that_would_last_longer(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        bool ran = false;
        poller.CallLater(TimeSpan.FromMilliseconds(30), () => ran = true);

        var clock = Stopwatch.StartNew();
        poller.Step(TimeSpan.FromSeconds(20));

        Assert.True(ran);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Poll waited {clock.Elapsed} past its timer");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_timer_scheduled_from_another_thread_wakes_the_blocked_loop(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        bool ran = false;
        var scheduler = new Thread(() =>
        {
            Thread.Sleep(50);
            poller.CallLater(TimeSpan.FromMilliseconds(10), () =>
            {
                ran = true;
                poller.Stop();
            });
        });
        scheduler.Start();

        var clock = Stopwatch.StartNew();
        poller.Loop(TimeSpan.FromSeconds(20));
        scheduler.Join();

        Assert.True(ran);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the loop slept through the timer ({clock.Elapsed})");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_throwing_timer_propagates_and_later_timers_still_run(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        bool later = false;
        poller.CallLater(TimeSpan.Zero, () => throw new TimeoutException("timer failed"));
        poller.CallLater(TimeSpan.FromMilliseconds(20), () => later = true);

        Assert.Throws<TimeoutException>(() => poller.Loop());
        poller.Loop();

        Assert.True(later);
    }
}
