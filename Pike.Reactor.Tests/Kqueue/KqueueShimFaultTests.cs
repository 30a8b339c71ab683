using System;
using System.Net.Sockets;
using Pike.Reactor.BSD;
using Xunit;
using static Pike.Reactor.Tests.KqueueTestKit;

namespace Pike.Reactor.Tests.Kqueue;

/// <summary>
/// Kernel answers a Linux socket never gives, injected through the test shim's fault hooks:
/// refused changes (reported against the right channel), ENOENT and EPIPE (ignored), EINTR
/// (the changes count as applied). docs/pitfalls.md 6 and 12. They need the shim, and are skipped
/// when PIKE_REACTOR_KQUEUE_LIBRARY names another library.
/// </summary>
[Trait("Lane", "kqueue")]
[Trait("Needs", "kqueue-shim")]
public class KqueueShimFaultTests
{
    private const int ENOMEM = 12;
    private const int EINVAL = 22;
    private const int EPIPE = 32;

    [Fact]
    public void A_refused_registration_throws_and_leaves_no_trace()
    {
        RequireShim();
        // docs/pitfalls.md 6: the add is applied at once so that the refusal throws from
        // AddChannel, and the core rolls its bookkeeping back.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        KqueueShim.FailNext(p.Handle, KqueueShim.EvfiltRead, KqueueShim.EvAdd, EINVAL);
        var channel = new RecordingTransport(p);
        NativeCallException error = Assert.Throws<NativeCallException>(() => channel.SetSocket(near));
        Assert.Equal(EINVAL, error.ErrorNumber);
        Assert.Contains("EV_ADD EVFILT_READ", error.Call, StringComparison.Ordinal);
        Assert.Equal(0, p.ChannelCount);
        Assert.Null(channel.Socket);

        // Nothing was left behind: the same socket registers with another transport and works.
        var again = new RecordingTransport(p);
        again.SetSocket(near);
        far.Send("x"u8);
        PollUntil(p, () => again.Received == 1, "the byte");
        Assert.Equal(1, p.ChannelCount);
        far.Dispose();
    }

    [Fact]
    public void A_refused_deferred_write_reaches_that_channel_only()
    {
        RequireShim();
        // The changelist entry's error comes back as an EV_ERROR entry carrying the channel's
        // key; it goes to that channel's HandleError, the others go on.
        using KqueuePoller p = NewPoller();
        (Socket near1, Socket far1) = ConnectedPair();
        (Socket near2, Socket far2) = ConnectedPair();
        var victim = new RecordingTransport(p);
        victim.SetSocket(near1);
        var bystander = new RecordingTransport(p);
        bystander.SetSocket(near2);

        KqueueShim.FailNext(p.Handle, KqueueShim.EvfiltWrite, KqueueShim.EvAdd, ENOMEM);
        p.DeferWrite(victim);
        p.DeferWrite(bystander);
        PollUntil(p, () => victim.Error is not null && bystander.Writes == 1, "the error and the other write");

        NativeCallException error = Assert.IsType<NativeCallException>(victim.Error);
        Assert.Equal(ENOMEM, error.ErrorNumber);
        Assert.Contains("EVFILT_WRITE", error.Call, StringComparison.Ordinal);
        Assert.Equal(0, victim.Writes);
        Assert.Null(bystander.Error);
        far1.Dispose();
        far2.Dispose();
    }

    [Fact]
    public void A_change_refused_during_a_wait_that_times_out_still_reaches_its_channel()
    {
        // docs/pitfalls.md 19: libkqueue places the EV_ERROR entry of a refused change, then waits
        // with the whole timeout, and a wait that times out returns 0: the entry is lost (the
        // shim's libkqueue mode). A BSD kernel returns the entry at once (bsd mode). Nothing else
        // is ready here, so every wait times out; the channel must still hear of its refusal.
        RequireShim();
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        var victim = new RecordingTransport(p);
        victim.SetSocket(near);
        KqueueShim.FailNext(p.Handle, KqueueShim.EvfiltWrite, KqueueShim.EvAdd, ENOMEM);
        p.DeferWrite(victim);

        PollUntil(p, () => victim.Error is not null, "the refused change to reach its channel");
        NativeCallException error = Assert.IsType<NativeCallException>(victim.Error);
        Assert.Equal(ENOMEM, error.ErrorNumber);
        Assert.Contains("EVFILT_WRITE", error.Call, StringComparison.Ordinal);
        Assert.Equal(0, victim.Writes);
        far.Dispose();
    }

    [Fact]
    public void A_pending_change_refused_during_a_registration_is_reported_to_its_owner()
    {
        RequireShim();
        // A registration applies the pending changes with it; an error of someone else's
        // change must not fail the registration, and reaches its owner with the next batch.
        using KqueuePoller p = NewPoller();
        (Socket near1, Socket far1) = ConnectedPair();
        (Socket near2, Socket far2) = ConnectedPair();
        var victim = new RecordingTransport(p);
        victim.SetSocket(near1);
        KqueueShim.FailNext(p.Handle, KqueueShim.EvfiltWrite, KqueueShim.EvAdd, ENOMEM);
        p.DeferWrite(victim);
        Assert.Equal(1, p.PendingChanges);

        var newcomer = new RecordingTransport(p);
        newcomer.SetSocket(near2);
        Assert.Equal(0, p.PendingChanges);
        Assert.Equal(2, p.ChannelCount);
        p.Poll(TimeSpan.Zero);
        NativeCallException error = Assert.IsType<NativeCallException>(victim.Error);
        Assert.Equal(ENOMEM, error.ErrorNumber);
        Assert.Null(newcomer.Error);
        far1.Dispose();
        far2.Dispose();
    }

    [Fact]
    public void Deleting_a_filter_that_is_gone_is_not_an_error()
    {
        RequireShim();
        // docs/pitfalls.md 12: ENOENT on delete is ignored. The read filter is removed behind
        // the poller's back; pausing reading then deletes it again.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        Assert.Equal(0, KqueueShim.Change(p.Handle, (nuint)channel.Fileno, KqueueShim.EvfiltRead, KqueueShim.EvDelete));

        ulong changes = KqueueShim.Changes(p.Handle);
        channel.PauseReading();
        p.Poll(TimeSpan.Zero);
        Assert.Equal(changes + 1, KqueueShim.Changes(p.Handle)); // the delete did reach the queue
        Assert.Null(channel.Error);

        channel.ResumeReading();
        far.Send("x"u8);
        PollUntil(p, () => channel.Received == 1, "the byte after resuming");
        Assert.Null(channel.Error);
        far.Dispose();
    }

    [Fact]
    public void A_registration_nobody_holds_is_removed_not_reported_for_ever()
    {
        RequireShim();
        // docs/pitfalls.md 2: the delete of a deregistered channel is refused (injected), so
        // its level-triggered read filter stays; its first event finds no channel and the
        // poller deletes the filter instead of hearing of it on every wait.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        KqueueShim.FailNext(p.Handle, KqueueShim.EvfiltRead, KqueueShim.EvDelete, EINVAL);
        p.DelChannel(channel);
        far.Send("x"u8);
        WaitUntil(() => near.Available > 0, "the byte to arrive");

        p.Poll(TimeSpan.FromMilliseconds(200)); // the refused delete comes back as an EV_ERROR entry
        p.Poll(TimeSpan.FromMilliseconds(200)); // the stale event: the poller queues deletes of both filters
        p.Poll(TimeSpan.FromMilliseconds(200)); // applied (the write filter's ENOENT comes back, ignored)
        long kevents = p.DispatchCounts.Kevents;
        p.Poll(TimeSpan.FromMilliseconds(100));
        Assert.Equal(kevents, p.DispatchCounts.Kevents);
        Assert.Equal(0, channel.Reads);
        Assert.Equal(1, near.Available); // nobody read it: the event was dropped, not dispatched
        near.Dispose();
        far.Dispose();
    }

    [Fact]
    public void EPIPE_from_an_add_is_not_an_error()
    {
        RequireShim();
        // docs/pitfalls.md 12, mio #582: old macOS refuses to add a pipe whose other end is
        // closed with EPIPE while still reporting its events; the registration stands.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        KqueueShim.FailNext(p.Handle, KqueueShim.EvfiltRead, KqueueShim.EvAdd, EPIPE);
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        Assert.Equal(1, p.ChannelCount);
        p.Poll(TimeSpan.Zero);
        Assert.Null(channel.Error);
        far.Dispose();
    }

    [Fact]
    public void EINTR_from_kevent_means_the_changes_were_applied()
    {
        RequireShim();
        // docs/pitfalls.md 12 (kqueue(2)): an interrupted kevent applied its changelist; the
        // poller waits again without sending it twice, and the write readiness still arrives.
        using KqueuePoller p = NewPoller();
        p.ChangesRideWithWait = true;
        (Socket near, Socket far) = ConnectedPair();
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        p.DeferWrite(channel);
        ulong changes = KqueueShim.Changes(p.Handle);
        ulong calls = KqueueShim.KeventCalls(p.Handle);

        KqueueShim.InterruptNext(p.Handle);
        p.Poll(Deadline);
        Assert.Equal(1, channel.Writes);
        Assert.Equal(changes + 1, KqueueShim.Changes(p.Handle));
        Assert.Equal(calls + 2, KqueueShim.KeventCalls(p.Handle)); // interrupted, then the wait again
        Assert.Equal(1, p.PendingChanges); // the one-shot write ended: its filter's removal
        far.Dispose();
    }
}
