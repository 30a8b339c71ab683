using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class LoopTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Loop_with_a_count_runs_that_many_iterations(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        int iterations = 0;

        // Each iteration runs the posts present when it began: a self-reposting action counts iterations.
        void Tick()
        {
            iterations++;
            poller.Post(Tick);
        }

        poller.Post(Tick);
        poller.Loop(count: 5);
        Assert.Equal(5, iterations);

        poller.Loop(count: 0);
        Assert.Equal(5, iterations);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Loop_without_arguments_ends_when_nothing_is_left(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var clock = Stopwatch.StartNew();
        poller.Loop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));

        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        bool posted = false;
        poller.Post(() => posted = true);
        poller.CallLater(TimeSpan.FromMilliseconds(20), peer.Dispose); // the peer's close ends the channel
        poller.Loop();

        Assert.True(posted);
        Assert.True(channel.IsClosed);
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Waiting_with_nothing_registered_still_waits_the_timeout(string name)
    {
        // docs/pitfalls.md 4 (CPython test_empty_select_timeout).
        using BasePoller poller = Pollers.Create(name);
        var clock = Stopwatch.StartNew();
        poller.Step(TimeSpan.FromMilliseconds(200));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(199), $"returned after {clock.Elapsed}");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_sub_millisecond_timeout_is_rounded_up_not_down_to_a_busy_poll(string name)
    {
        // docs/pitfalls.md 4 (mio epoll.rs): 0.3 ms must wait, not return at once.
        using BasePoller poller = Pollers.Create(name);
        var idle = new TestListener(poller);
        poller.Step(TimeSpan.Zero); // warm up
        var timeout = TimeSpan.FromTicks(3_000);
        int polls = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMilliseconds(100))
        {
            poller.Step(timeout);
            polls++;
        }

        // Each Poll waited at least 0.3 ms (in practice a whole millisecond): a zero wait would spin
        // hundreds of thousands of times in 100 ms.
        Assert.True(polls <= 100 / 0.3 + 1, $"{polls} polls in 100 ms");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Spurious_wake_ups_do_not_end_a_Loop_before_its_deadline(string name)
    {
        // docs/pitfalls.md 5: a wait may return with nothing to do; Loop's deadline still holds.
        using BasePoller poller = Pollers.Create(name);
        var idle = new TestListener(poller);
        using var done = new CancellationTokenSource();
        var waker = new Thread(() =>
        {
            while (!done.IsCancellationRequested)
            {
                poller.Wake();
                Thread.Sleep(5);
            }
        });
        waker.Start();
        var clock = Stopwatch.StartNew();
        poller.Loop(TimeSpan.FromMilliseconds(300));
        TimeSpan elapsed = clock.Elapsed;
        done.Cancel();
        waker.Join();

        Assert.True(elapsed >= TimeSpan.FromMilliseconds(299), $"returned after {elapsed}");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_readable_event_followed_by_would_block_reads_zero(string name)
    {
        // docs/pitfalls.md 5 (mio #632): readiness is a hint; Recv returns 0 when nothing is there.
        using BasePoller poller = Pollers.Create(name);
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        (Socket peerB, TestChannel b) = TestChannel.OverPair(poller);
        var results = new System.Collections.Generic.List<int>();
        byte[] buffer = new byte[100];

        // Each handler drains both sockets, so the second handler of the batch finds nothing.
        a.OnRead = _ => { results.Add(a.Recv(buffer)); results.Add(b.Recv(buffer)); };
        b.OnRead = _ => { results.Add(b.Recv(buffer)); results.Add(a.Recv(buffer)); };

        TestChannel.MakeReadable((peerA, a), (peerB, b));
        poller.Step(TimeSpan.FromSeconds(5));

        Assert.Equal(4, results.Count);
        Assert.Equal([10, 10, 0, 0], results);
        Assert.False(a.CloseCalled || b.CloseCalled);
        peerA.Dispose();
        peerB.Dispose();
    }
}
