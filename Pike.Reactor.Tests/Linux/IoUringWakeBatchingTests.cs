using System;
using System.Diagnostics;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Threading;
using Pike.Reactor.Linux;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// io_uring's wake batching (<see cref="IoUringPoller.WakeBatching"/>): a wait after a batch of k
/// asks for k completions but never holds one back past the window, an idle loop does not spin,
/// and the ring is bound to the thread that first entered it. The contract suite runs on it too
/// (the poller name <c>io_uring-batching</c> of the linux lane).
/// </summary>
[Trait("Lane", "linux")]
[SupportedOSPlatform("linux")]
public class IoUringWakeBatchingTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMicroseconds(50);

    public static bool Available => Pollers.IoUringBatchingAvailable;

    [Fact(Skip = "wake batching needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) and io_uring allowed", SkipUnless = nameof(Available), SkipType = typeof(IoUringWakeBatchingTests))]
    public void The_window_is_zero_or_from_a_microsecond_to_ten_milliseconds()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new IoUringPoller(wakeBatching: TimeSpan.FromMicroseconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IoUringPoller(wakeBatching: TimeSpan.FromTicks(5))); // 0.5 µs
        Assert.Throws<ArgumentOutOfRangeException>(() => new IoUringPoller(wakeBatching: IoUringPoller.MaxWakeBatching + TimeSpan.FromMicroseconds(1)));

        using var plain = new IoUringPoller();
        using var batching = new IoUringPoller(wakeBatching: Window);

        Assert.Equal(TimeSpan.Zero, plain.WakeBatching);
        Assert.Equal(0u, plain.SetupFlags & Interop.Libc.IORING_SETUP_DEFER_TASKRUN);
        Assert.Equal(Window, batching.WakeBatching);
        const uint Batching = Interop.Libc.IORING_SETUP_DEFER_TASKRUN | Interop.Libc.IORING_SETUP_SINGLE_ISSUER;
        Assert.Equal(Batching, batching.SetupFlags & Batching);
    }

    [Fact(Skip = "wake batching needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) and io_uring allowed", SkipUnless = nameof(Available), SkipType = typeof(IoUringWakeBatchingTests))]
    public void After_a_batch_of_eight_a_lone_event_is_dispatched_when_the_window_ends_not_when_seven_more_come()
    {
        using var poller = new IoUringPoller(wakeBatching: Window);
        var pairs = Enumerable.Range(0, 8).Select(_ => TestChannel.OverPair(poller)).ToArray();
        DispatchOneBatch(poller, pairs);

        Assert.All(pairs, p => Assert.Equal(1, p.Channel.Reads));
        Assert.Equal(8, poller.BatchTarget);

        pairs[3].Peer.Send(new byte[1]);
        var clock = Stopwatch.StartNew();
        poller.Poll(TimeSpan.FromSeconds(5));

        // Held for eight completions without the window, this wait would end at its 5 s timeout.
        Assert.Equal(2, pairs[3].Channel.Reads);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the lone event waited {clock.Elapsed}");
        Assert.Equal(1, poller.BatchTarget); // one came: the next wait asks for one
        Close(pairs);
    }

    [Fact(Skip = "wake batching needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) and io_uring allowed", SkipUnless = nameof(Available), SkipType = typeof(IoUringWakeBatchingTests))]
    public void An_idle_loop_after_a_batch_sleeps_without_spinning()
    {
        using var poller = new IoUringPoller(wakeBatching: Window);
        var pairs = Enumerable.Range(0, 4).Select(_ => TestChannel.OverPair(poller)).ToArray();
        int target = 0;
        long enters = 0;
        using var batched = new ManualResetEventSlim();
        PeerThread<bool> loop = OnLoopThread(() =>
        {
            DispatchOneBatch(poller, pairs);
            target = poller.BatchTarget;
            enters = poller.Enters;
            batched.Set();
            poller.Loop(Timeout.InfiniteTimeSpan); // nothing due: every wait is endless
            Close(pairs);
        });
        WaitFor(batched, loop);
        Thread.Sleep(300);
        long idleEnters = poller.Enters - enters;
        poller.Stop();

        Finish(loop);
        Assert.True(target > 1, $"the batch was {target}");

        // The window of the first idle wait ends with nothing and the kernel returns (one enter);
        // the next wait is a plain one (one more). Asking for the batch again would spin: one enter per 50 µs.
        Assert.InRange(idleEnters, 1, 2);
        Assert.All(pairs, p => Assert.Equal(1, p.Channel.Reads));
    }

    [Fact(Skip = "wake batching needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) and io_uring allowed", SkipUnless = nameof(Available), SkipType = typeof(IoUringWakeBatchingTests))]
    public void A_poller_made_on_one_thread_runs_on_the_thread_that_first_waits_and_refuses_any_other()
    {
        using var poller = new IoUringPoller(wakeBatching: Window);
        var pairs = Enumerable.Range(0, 3).Select(_ => TestChannel.OverPair(poller)).ToArray(); // queued, not entered
        PeerThread<bool> loop = OnLoopThread(() =>
        {
            foreach ((Socket peer, _) in pairs)
            {
                peer.Send(new byte[1]);
            }

            Wait.Until(poller, () => pairs.All(p => p.Channel.Reads == 1), "a read at every channel");
        });
        Finish(loop);

        var refused = Assert.Throws<InvalidOperationException>(() => poller.Poll(TimeSpan.Zero));
        Assert.Contains("binds its ring to the thread", refused.Message, StringComparison.Ordinal);
        Close(pairs); // a close on another thread is not refused: its removal goes with the loop's next wait
    }

    [Fact(Skip = "wake batching needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) and io_uring allowed", SkipUnless = nameof(Available), SkipType = typeof(IoUringWakeBatchingTests))]
    public void A_post_from_another_thread_reaches_a_loop_that_waits_for_a_batch_within_the_window()
    {
        using var poller = new IoUringPoller(wakeBatching: TimeSpan.FromMilliseconds(10));
        var pairs = Enumerable.Range(0, 6).Select(_ => TestChannel.OverPair(poller)).ToArray();
        int target = 0;
        bool ran = false;
        TimeSpan waited = TimeSpan.Zero;
        using var batched = new ManualResetEventSlim();
        PeerThread<bool> loop = OnLoopThread(() =>
        {
            DispatchOneBatch(poller, pairs);
            target = poller.BatchTarget;
            batched.Set();

            // Asks for six completions; the Post's wake-up is one, and the 10 ms window ends the wait.
            var clock = Stopwatch.StartNew();
            while (!Volatile.Read(ref ran) && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                poller.Poll(TimeSpan.FromSeconds(5));
            }

            waited = clock.Elapsed;
            Close(pairs);
        });
        WaitFor(batched, loop);

        poller.Post(() => Volatile.Write(ref ran, true));

        Finish(loop);
        Assert.True(target > 1, $"the batch was {target}");
        Assert.True(ran, "the posted action ran");
        Assert.True(waited < TimeSpan.FromSeconds(2), $"the post waited {waited} (the wait's timeout is 5 s)");
    }

    [Fact(Skip = "wake batching needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) and io_uring allowed", SkipUnless = nameof(Available), SkipType = typeof(IoUringWakeBatchingTests))]
    public void Changes_beyond_a_full_ring_wait_in_order_for_the_loop_thread_and_closes_from_another_thread_reach_the_peers()
    {
        using var poller = new IoUringPoller(submissionEntries: 8, wakeBatching: Window);
        var pairs = Enumerable.Range(0, 24).Select(_ => TestChannel.OverPair(poller)).ToArray(); // 24 adds: 8 fit, 16 wait early
        Assert.Equal(8u, poller.PendingSubmissions);
        using var firstDone = new ManualResetEventSlim();
        using var closed = new ManualResetEventSlim();
        PeerThread<bool> loop = OnLoopThread(() =>
        {
            // The first wait binds the ring to this thread and moves the early entries in.
            foreach ((Socket peer, _) in pairs)
            {
                peer.Send(new byte[1]);
            }

            Wait.Until(poller, () => pairs.All(p => p.Channel.Reads == 1), "a read at every channel");
            firstDone.Set();
            Assert.True(closed.Wait(Wait.Deadline));
            foreach ((Socket peer, _) in pairs.Skip(12))
            {
                peer.Send(new byte[1]);
            }

            Wait.Until(poller, () => pairs.Skip(12).All(p => p.Channel.Reads == 2), "a second read at every open channel");
        });
        WaitFor(firstDone, loop);

        // Closed on the test thread, which cannot enter the ring: 12 cancels, kept for the loop
        // thread (the ring of 8 fills, the rest wait early).
        foreach ((_, TestChannel channel) in pairs.Take(12))
        {
            channel.Close();
        }

        Assert.Equal(12, poller.ChannelCount);
        closed.Set();
        Finish(loop);

        // The loop's waits submitted the cancels: every closed channel's peer reads the end of the stream.
        foreach ((Socket peer, _) in pairs.Take(12))
        {
            peer.ReceiveTimeout = 5000;
            Assert.Equal(0, peer.Receive(new byte[16]));
        }

        Assert.IsType<InvalidOperationException>(Record.Exception(() => poller.Poll(TimeSpan.Zero)));
        Close(pairs);
    }

    /// <summary>Runs <paramref name="work"/> as the poller's loop thread (the ring binds to it).</summary>
    /// <summary>Submits the pairs' polls, makes every pair readable and dispatches them in one wait: the next wait asks for as many.</summary>
    private static void DispatchOneBatch(IoUringPoller poller, (Socket Peer, TestChannel Channel)[] pairs)
    {
        poller.Poll(TimeSpan.Zero); // the polls go in
        TestChannel.MakeReadable(pairs);
        poller.Poll(TimeSpan.FromSeconds(5));
    }

    private static PeerThread<bool> OnLoopThread(Action work) => new(() =>
    {
        work();
        return true;
    });

    /// <summary>Waits for <paramref name="signal"/>, failing with the loop thread's exception if it ended first.</summary>
    private static void WaitFor(ManualResetEventSlim signal, PeerThread<bool> loop)
    {
        Wait.For(() => signal.IsSet || loop.IsCompleted, "the loop thread's signal");
        if (!signal.IsSet)
        {
            Assert.True(loop.Result); // rethrows what the loop thread threw
            Assert.Fail("the loop thread ended before its signal");
        }
    }

    /// <summary>Waits for the loop thread's work to end, rethrowing its exception.</summary>
    private static void Finish(PeerThread<bool> loop)
    {
        Wait.For(() => loop.IsCompleted, "the loop thread's work");
        Assert.True(loop.Result);
    }

    private static void Close((Socket Peer, TestChannel Channel)[] pairs)
    {
        foreach ((Socket peer, TestChannel channel) in pairs)
        {
            channel.Close();
            peer.Dispose();
        }
    }
}
