using System;
using System.Linq;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Threading;
using Pike.Reactor.Linux;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>What only the io_uring backend can show: batched submission, the probe's reasons, the factory's fallback, release.</summary>
[Trait("Lane", "linux")]
[Collection(nameof(ProcessWideCollection))] // one test counts the process's descriptors
[SupportedOSPlatform("linux")]
public class IoUringPollerTests
{
    [Fact]
    public void Interest_changes_are_queued_and_carried_by_the_next_wait()
    {
        using var poller = new IoUringPoller();
        poller.Poll(TimeSpan.Zero); // the wake-up's poll goes in
        long enters = poller.Enters;
        var pairs = Enumerable.Range(0, 20).Select(_ => TestChannel.OverPair(poller)).ToArray();
        foreach ((_, TestChannel channel) in pairs)
        {
            poller.DeferWrite(channel);
        }

        Assert.Equal(enters, poller.Enters); // no system call per change
        Assert.Equal(20u, poller.PendingSubmissions); // one add each; the write interest joined it before submission

        poller.Poll(TimeSpan.FromSeconds(5));

        Assert.Equal(enters + 1, poller.Enters);
        Assert.All(pairs, p => Assert.Equal(1, p.Channel.Writes));
        foreach ((Socket peer, TestChannel channel) in pairs)
        {
            channel.Close();
            peer.Dispose();
        }
    }

    [Fact]
    public void A_full_submission_ring_is_submitted_before_more_is_queued()
    {
        using var poller = new IoUringPoller(submissionEntries: 8);
        var pairs = Enumerable.Range(0, 40).Select(_ => TestChannel.OverPair(poller)).ToArray();
        Assert.True(poller.PendingSubmissions <= 8);
        foreach ((Socket peer, _) in pairs)
        {
            peer.Send(new byte[1]);
        }

        Wait.Until(poller, () => pairs.All(p => p.Channel.Reads == 1), "a read at every channel");
        foreach ((Socket peer, TestChannel channel) in pairs)
        {
            channel.Close();
            peer.Dispose();
        }
    }

    [Fact]
    public void A_socket_its_handler_did_not_drain_is_reported_again()
    {
        // Level-triggered, as the contract asks: the one-shot poll re-armed after dispatch checks
        // readiness as it is armed.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        byte[] one = new byte[1];
        channel.OnRead = c => c.Recv(one);
        peer.Send(new byte[10]);

        Wait.Until(poller, () => channel.Reads == 10, "ten reads of one byte each");
        poller.Poll(TimeSpan.FromMilliseconds(50));
        Assert.Equal(10, channel.Reads); // drained: no more
        Assert.Equal(0, channel.Socket!.Available);
    }

    [Fact]
    public void A_channel_paused_and_resumed_before_the_cancel_lands_has_one_poll_and_no_duplicate_reads()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        poller.Poll(TimeSpan.Zero); // the channel's poll is in the kernel
        channel.PauseReading();    // a cancel is submitted at once
        channel.ResumeReading();   // its completion re-arms; no second request meanwhile
        for (int i = 1; i <= 5; i++)
        {
            peer.Send(new byte[1]);
            Wait.Until(poller, () => channel.Reads == i, $"read {i}");
        }

        poller.Poll(TimeSpan.FromMilliseconds(50));
        Assert.Equal(5, channel.Reads);
    }

    [Fact]
    public void A_poll_armed_on_another_thread_still_completes_while_that_thread_sleeps()
    {
        // The kernel runs a poll's completion work on the thread that submitted it. A poll armed
        // by one thread (Poll here) must still complete while that thread sleeps and the loop
        // runs on another; IORING_SETUP_COOP_TASKRUN spares a running thread the interrupt
        // only, a sleeping one is still woken for the work (docs/io_uring.md).
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        using var read = new ManualResetEventSlim();
        channel.OnRead = c =>
        {
            Span<byte> sink = stackalloc byte[16];
            while (c.Recv(sink) > 0)
            {
            }

            read.Set();
        };
        poller.Poll(TimeSpan.Zero); // this thread submits the channel's poll
        var loop = new Thread(() => poller.Loop(Wait.Deadline, count: 1_000));
        loop.Start();
        var sender = new Thread(() =>
        {
            Thread.Sleep(100);
            peer.Send(new byte[1]);
        });
        sender.Start();

        bool seen = read.Wait(Wait.Deadline); // this thread sleeps; the loop thread must hear of the data
        poller.Stop();
        Assert.True(loop.Join(Wait.Deadline));
        sender.Join();
        Assert.True(seen, "a poll armed by a sleeping thread never completed");
    }

    [Fact]
    public void Polls_armed_by_a_thread_that_exits_are_armed_again()
    {
        // The kernel cancels the requests of a thread that exits: their -ECANCELED completions,
        // not asked for by the backend, re-arm the channel (and the wake-up) from the loop thread.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var armer = new Thread(() => poller.Poll(TimeSpan.Zero));
        armer.Start();
        Assert.True(armer.Join(Wait.Deadline));

        peer.Send(new byte[1]);
        Wait.Until(poller, () => channel.Reads == 1, "a read after the arming thread exited");

        var waker = new Thread(() =>
        {
            Thread.Sleep(100);
            poller.Wake();
        });
        waker.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        poller.Poll(Wait.Deadline);
        Assert.True(clock.Elapsed < Wait.Deadline / 2, "the wake-up poll was not armed again");
        waker.Join();
    }

    [Fact]
    public void Closing_a_channel_outside_the_loop_lets_the_peer_see_the_end_at_once()
    {
        // The poll request holds the socket's file; the removal is submitted before the close.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        poller.Poll(TimeSpan.Zero);

        channel.Close();

        peer.ReceiveTimeout = 10_000;
        Assert.Equal(0, peer.Receive(new byte[1])); // end of stream, without another Poll
    }

    [Fact]
    public void Dispose_releases_the_ring_and_is_idempotent()
    {
        var poller = new IoUringPoller();
        Assert.True(poller.Handle >= 0);
        poller.Dispose();
        Assert.Equal(-1, poller.Handle);
        poller.Dispose();
        Assert.Throws<ObjectDisposedException>(() => poller.Poll(TimeSpan.Zero));
    }

    [Fact]
    public void Dispose_while_the_loop_runs_on_another_thread_is_refused_and_changes_nothing()
    {
        using var poller = new IoUringPoller();
        using var running = new ManualResetEventSlim();
        poller.Post(running.Set);
        var loop = new Thread(() => poller.Loop(TimeSpan.FromSeconds(20)));
        loop.Start();
        Assert.True(running.Wait(Wait.Deadline));

        Assert.Throws<InvalidOperationException>(poller.Dispose);
        Assert.True(poller.Handle >= 0);

        poller.Stop();
        Assert.True(loop.Join(Wait.Deadline));
    }

    [Theory]
    [InlineData(38, null, "older than Linux 5.1")]
    [InlineData(1, "0", "seccomp")]
    [InlineData(1, null, "seccomp")]
    [InlineData(1, "1", "kernel.io_uring_disabled is 1")]
    [InlineData(1, "2", "kernel.io_uring_disabled is 2")]
    [InlineData(12, null, "ulimit -l")]
    [InlineData(22, null, "Linux 5.13")]
    [InlineData(5, null, "error 5")]
    public void A_setup_error_is_explained(int errno, string? sysctl, string expected)
    {
        Assert.Contains(expected, IoUringPoller.ExplainSetupError(errno, sysctl), StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_features_are_named()
    {
        Assert.Equal(string.Empty, IoUringPoller.MissingFeatures(uint.MaxValue));
        string missing = IoUringPoller.MissingFeatures(~(1u << 8));
        Assert.Contains("IORING_FEAT_EXT_ARG", missing, StringComparison.Ordinal);
        Assert.DoesNotContain("NODROP", missing, StringComparison.Ordinal);
        Assert.Contains("IORING_FEAT_NODROP", IoUringPoller.MissingFeatures(0), StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_setup_makes_io_uring_unavailable_and_the_factory_keeps_epoll()
    {
        IoUringPoller.SimulatedSetupError = 1; // EPERM, as a container's seccomp profile answers
        try
        {
            PollerAvailability probe = PollerFactory.Probe().Single(p => p.Name == "io_uring");
            Assert.False(probe.Available);
            Assert.Contains("EPERM", probe.Reason, StringComparison.Ordinal);

            var error = Assert.Throws<PollerUnavailableException>(() => PollerFactory.Create("io_uring"));
            Assert.Contains("io_uring", error.Message, StringComparison.Ordinal);
            Assert.Throws<PollerUnavailableException>(() => new IoUringPoller());

            using BasePoller best = PollerFactory.CreateBest(_ => true, _ => Assert.Fail("no fallback notice: epoll is the first choice"));
            Assert.Equal("epoll", best.Name);
        }
        finally
        {
            IoUringPoller.SimulatedSetupError = 0;
        }

        Assert.True(new LinuxPollerProvider().Probe("io_uring").Available);
    }

    [Fact]
    public void A_kernel_without_a_needed_feature_is_reported_and_the_ring_closed()
    {
        int before = OsResources.OpenHandles();
        IoUringPoller.HiddenFeatures = 1u << 8; // IORING_FEAT_EXT_ARG
        try
        {
            PollerAvailability probe = new LinuxPollerProvider().Probe("io_uring");
            Assert.False(probe.Available);
            Assert.Contains("IORING_FEAT_EXT_ARG", probe.Reason, StringComparison.Ordinal);
        }
        finally
        {
            IoUringPoller.HiddenFeatures = 0;
        }

        Assert.Equal(before, OsResources.OpenHandles());
    }

    [Fact]
    public void A_kernel_without_skipped_success_completions_sends_at_once_and_loses_nothing()
    {
        // Without IOSQE_CQE_SKIP_SUCCESS (Linux 5.17) a request that went whole would post a
        // completion that ends the wait carrying it: the ring keeps readiness only.
        IoUringPoller.HiddenFeatures = 1u << 11; // IORING_FEAT_CQE_SKIP
        try
        {
            using var poller = new IoUringPoller();
            Assert.Equal(0, poller.SendWithWaitLimit);
            (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
            using var _ = peer;
            long queuedInHandler = -1;
            channel.OnRead = c =>
            {
                c.Recv(new byte[1]);
                c.Write("+PONG\r\n"u8);
                queuedInHandler = c.QueuedBytes;
            };
            peer.Send("x"u8);
            Wait.Until(poller, () => channel.Reads == 1, "the read");

            Assert.Equal(0, queuedInHandler); // the send call went in Write
            byte[] reply = new byte[16];
            peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
            Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(reply, 0, peer.Receive(reply)));
        }
        finally
        {
            IoUringPoller.HiddenFeatures = 0;
        }
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new IoUringPoller(0));
        Assert.Equal("submissionEntries", error.ParamName);
    }
}
