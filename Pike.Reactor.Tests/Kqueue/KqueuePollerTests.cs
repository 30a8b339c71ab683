using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Pike.Reactor.BSD;
using Xunit;
using static Pike.Reactor.Tests.KqueueTestKit;

namespace Pike.Reactor.Tests.Kqueue;

/// <summary>
/// KqueuePoller's own behaviour, docs/pitfalls.md 9-13 among it, on this host's kqueue (on
/// Linux: the test shim, which follows libkqueue's semantics). Real loopback sockets.
/// </summary>
[Trait("Lane", "kqueue")]
public class KqueuePollerTests
{
    [Fact]
    public void Streams_4_MiB_through_deferred_one_shot_writes()
    {
        // Every HandleWrite sends until the socket would block, which defers the next write
        // from inside HandleWrite: the one-shot filter must come back although the core sees
        // no change of interest.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        near.SendBufferSize = 16384;
        far.ReceiveBufferSize = 16384;
        byte[] payload = new byte[4 << 20];
        Random.Shared.NextBytes(payload);
        int sent = 0;
        var sender = new RecordingTransport(p);
        sender.OnWrite = t => sent += Pump(t, payload, sent);
        sender.SetSocket(near);
        var sink = new RecordingTransport(p);
        sink.SetSocket(far);

        sent += Pump(sender, payload, sent);
        PollUntil(p, () => sink.Received == payload.Length, "the whole payload to arrive");
        Assert.Equal(payload.Length, sent);
        Assert.True(sender.Writes > 2, "the payload must have needed deferred writes again and again");
        Assert.Null(sender.Error);
        Assert.Null(sink.Error);
    }

    [Fact]
    public void A_refused_connect_reaches_HandleError_as_ConnectionRefused()
    {
        // docs/pitfalls.md 10 and 19: the errno comes in fflags with EV_EOF, but on which filter
        // depends on the kqueue. libkqueue makes the read kevent of the descriptor first and reads
        // SO_ERROR for it, which clears it, so the write kevent carries fflags 0 (the shim's
        // libkqueue mode); a BSD kernel puts so_error on both (bsd mode). The refusal must be
        // ConnectionRefused either way, not the NotConnected a later SO_ERROR/getpeername gives.
        using KqueuePoller p = NewPoller();
        var client = new RecordingTransport(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(ClosedEndPoint());
        PollUntil(p, () => client.Error is not null, "the connect to fail");

        SocketException error = Assert.IsType<SocketException>(client.Error);
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.Equal(0, client.Connects);
        Assert.Equal(["error"], client.Calls); // no read of the failed socket came first
        Assert.Equal(0, p.ChannelCount);
    }

    [Fact]
    public void Peer_half_close_keeps_the_channel_writable()
    {
        // docs/pitfalls.md 11: the peer's shutdown(SHUT_WR) is an end of stream for reading
        // only; writing goes on, and the peer gets everything.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        far.Shutdown(SocketShutdown.Send);
        byte[] payload = new byte[1 << 20];
        int sent = 0;
        var channel = new RecordingTransport(p);
        channel.OnWrite = t => sent += Pump(t, payload, sent);
        channel.SetSocket(near);
        int received = 0;
        var reader = new Thread(() => received = ReadAll(far, payload.Length)) { IsBackground = true };
        reader.Start();

        PollUntil(p, () => channel.SawEndOfStream, "the end of stream");
        sent += Pump(channel, payload, sent);
        PollUntil(p, () => sent == payload.Length, "the payload to be sent");
        Assert.True(reader.Join(Deadline));
        Assert.Equal(payload.Length, received);
        Assert.Equal(0, channel.Closes);
        Assert.Null(channel.Error);
        Assert.False(channel.IsClosed);
        far.Dispose();
    }

    [Fact]
    public void Write_side_eof_is_write_readiness_not_a_hang_up()
    {
        // docs/pitfalls.md 11 (mio #1087): with both directions shut down the write filter
        // reports EV_EOF. That is readiness for the deferred write; the channel is not closed
        // for it, and HandleWrite decides.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        far.Shutdown(SocketShutdown.Send);
        near.Shutdown(SocketShutdown.Send);
        PollUntil(p, () => channel.SawEndOfStream, "the end of stream");

        p.DeferWrite(channel);
        PollUntil(p, () => channel.Writes > 0, "HandleWrite");
        Assert.Equal(0, channel.Closes);
        Assert.Null(channel.Error);
        Assert.False(channel.IsClosed);
        far.Dispose();
    }

    [Fact]
    public void Read_and_write_of_one_socket_are_one_dispatch()
    {
        // docs/pitfalls.md 13 (CPython gh-110038): two kevents, one channel, one dispatch,
        // read before write.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        far.Send("x"u8);
        WaitUntil(() => near.Available > 0, "the byte to arrive");
        p.DeferWrite(channel);

        (long kevents, long dispatches) = p.DispatchCounts;
        p.Poll(Deadline);
        Assert.Equal(2, p.DispatchCounts.Kevents - kevents);
        Assert.Equal(1, p.DispatchCounts.Dispatches - dispatches);
        Assert.Equal(["read", "write"], channel.Calls);
        far.Dispose();
    }

    [Fact]
    public void A_burst_larger_than_the_buffer_is_taken_in_one_iteration()
    {
        // docs/pitfalls.md 9 and 13: the buffer counts filters, not channels; a wait that
        // fills it is followed by another without blocking, and the buffer grows.
        using KqueuePoller p = NewPoller(capacity: 1);
        var channels = new List<RecordingTransport>();
        var peers = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            (Socket near, Socket far) = ConnectedPair();
            var channel = new RecordingTransport(p);
            channel.SetSocket(near);
            far.Send("x"u8);
            WaitUntil(() => near.Available > 0, "a byte to arrive");
            p.DeferWrite(channel);
            channels.Add(channel);
            peers.Add(far);
        }

        p.Poll(Deadline);
        foreach (RecordingTransport channel in channels)
        {
            Assert.Equal(1, channel.Reads);
            Assert.Equal(1, channel.Writes);
        }

        peers.ForEach(s => s.Dispose());
    }

    [Fact]
    public void More_than_a_thousand_connections_registered_in_one_burst_are_all_served()
    {
        // docs/pitfalls.md 20: a change submitted with EV_RECEIPT (and any refused change) takes
        // an eventlist entry, libkqueue never uses more than 512 entries (MAX_KEVENT) and fails
        // such a call with EFAULT, and a BSD kernel without room stops applying changes. 1,100
        // registrations and 1,100 deferred writes before the first wait, then 1,100 closes
        // (deletes of both filters) from handlers: none may be lost or refused.
        const int Connections = 1100;
        using KqueuePoller p = NewPoller();
        List<(Socket Near, Socket Far)> pairs = ConnectedPairs(Connections);
        foreach ((_, Socket far) in pairs)
        {
            far.Send("x"u8);
        }

        var channels = new List<RecordingTransport>(Connections);
        foreach ((Socket near, _) in pairs)
        {
            var channel = new RecordingTransport(p) { OnRead = AnswerAndClose };
            channel.SetSocket(near);
            channels.Add(channel);
        }

        foreach (RecordingTransport channel in channels)
        {
            p.DeferWrite(channel);
        }

        PollUntil(p, () => channels.TrueForAll(c => c.IsClosed), "every channel to answer and close");
        Assert.All(channels, c =>
        {
            Assert.Null(c.Error);
            Assert.Equal(1, c.Received);
        });
        Assert.Equal(0, p.ChannelCount);
        byte[] answer = new byte[2];
        foreach ((_, Socket far) in pairs)
        {
            far.ReceiveTimeout = (int)Deadline.TotalMilliseconds;
            Assert.Equal(1, far.Receive(answer));
            Assert.Equal((byte)'y', answer[0]);
            Assert.Equal(0, far.Receive(answer)); // then the end of stream: the channel closed
            far.Dispose();
        }

        static void AnswerAndClose(RecordingTransport t)
        {
            t.Drain();
            if (t.Received == 1 && !t.IsClosed)
            {
                t.Send("y"u8);
                t.Close();
            }
        }
    }

    [Fact]
    public void Interest_changes_ride_on_the_next_wait()
    {
        // No system call per change: twenty deferred writes are twenty changelist entries that
        // the next kevent wait applies (on a BSD kernel; over libkqueue they are applied just
        // before the wait, see Changes_are_applied_before_a_wait_over_libkqueue).
        using KqueuePoller p = NewPoller();
        p.ChangesRideWithWait = true;
        var channels = new List<RecordingTransport>();
        var peers = new List<Socket>();
        for (int i = 0; i < 20; i++)
        {
            (Socket near, Socket far) = ConnectedPair();
            var channel = new RecordingTransport(p);
            channel.SetSocket(near);
            channels.Add(channel);
            peers.Add(far);
        }

        long calls = p.KeventCalls;
        ulong shimCalls = UsesShim ? KqueueShim.KeventCalls(p.Handle) : 0;
        ulong shimChanges = UsesShim ? KqueueShim.Changes(p.Handle) : 0;
        foreach (RecordingTransport channel in channels)
        {
            p.DeferWrite(channel);
        }

        Assert.Equal(calls, p.KeventCalls);
        Assert.Equal(20, p.PendingChanges);
        p.Poll(Deadline);
        Assert.Equal(calls + 1, p.KeventCalls);
        Assert.Equal(20, p.PendingChanges); // each one-shot write ended: its filter's removal waits for the next call
        Assert.All(channels, c => Assert.Equal(1, c.Writes));
        if (UsesShim)
        {
            Assert.Equal(shimCalls + 1, KqueueShim.KeventCalls(p.Handle));
            Assert.Equal(shimChanges + 20, KqueueShim.Changes(p.Handle));
        }

        peers.ForEach(s => s.Dispose());
    }

    [Fact]
    public void Changes_are_applied_before_a_wait_over_libkqueue()
    {
        // docs/pitfalls.md 19: libkqueue drops the errors of changes taken with a wait that times
        // out, so over a library named by path the changes go first, with receipts, in one call.
        using KqueuePoller p = NewPoller();
        Assert.Equal(!OperatingSystem.IsLinux(), p.ChangesRideWithWait);
        var channels = new List<RecordingTransport>();
        var peers = new List<Socket>();
        for (int i = 0; i < 20; i++)
        {
            (Socket near, Socket far) = ConnectedPair();
            var channel = new RecordingTransport(p);
            channel.SetSocket(near);
            channels.Add(channel);
            peers.Add(far);
        }

        p.ChangesRideWithWait = false;
        long calls = p.KeventCalls;
        channels.ForEach(p.DeferWrite);
        Assert.Equal(calls, p.KeventCalls);
        Assert.Equal(20, p.PendingChanges);
        p.Poll(Deadline);
        Assert.Equal(calls + 2, p.KeventCalls); // the changes with receipts, then the wait
        Assert.Equal(20, p.PendingChanges); // the write filters' removals, for the next call
        Assert.All(channels, c => Assert.Equal(1, c.Writes));
        peers.ForEach(s => s.Dispose());
    }

    [Fact]
    public void Wake_from_another_thread_ends_an_infinite_poll()
    {
        using KqueuePoller p = NewPoller();
        var poll = new Thread(() => p.Poll(Timeout.InfiniteTimeSpan)) { IsBackground = true };
        poll.Start();
        long start = p.WakeSignals;

        // Wake until the kernel had to be signaled (the loop was asleep), then the wait must end.
        WaitUntil(() =>
        {
            p.Wake();
            return p.WakeSignals > start || !poll.IsAlive;
        }, "a wake-up to reach the sleeping loop");
        Assert.True(poll.Join(Deadline), "Wake must end the wait");
    }

    [Fact]
    public void Accepts_and_echoes_through_a_listener()
    {
        using KqueuePoller p = NewPoller();
        var server = new EchoListener(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new RecordingTransport(p) { OnConnect = t => t.Send("ping"u8) };
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        PollUntil(p, () => client.Received == 4, "the echo");
        Assert.Equal(1, client.Connects);
        Assert.True(client.Connected);
    }

    [Fact]
    public void Disposing_closes_the_queue()
    {
        KqueuePoller p = NewPoller();
        Assert.True(p.Handle >= 0);
        p.Dispose();
        Assert.Equal(-1, p.Handle);
        Assert.Throws<ObjectDisposedException>(() => p.Poll(TimeSpan.Zero));
    }

    [Fact]
    public void Steady_state_dispatch_and_interest_changes_allocate_nothing()
    {
        // Reads, one-shot write arming through the changelist, merged dispatch: all on
        // preallocated buffers.
        using KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        using var _ = far;
        var channel = new PingPongWithWrite(p);
        channel.SetSocket(near);
        byte[] one = [1];
        byte[] reply = new byte[1];

        void RoundTrips(int count)
        {
            for (int i = 0; i < count; i++)
            {
                far.Send(one);
                int before = channel.Writes;
                while (channel.Writes == before)
                {
                    p.Poll(Deadline);
                }

                far.Receive(reply);
            }
        }

        RoundTrips(2000); // JIT and tiering settle first
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        RoundTrips(1000);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.Equal(0, allocated);
    }

    internal static int Pump(Transport t, byte[] payload, int offset)
    {
        int total = 0;
        while (offset + total < payload.Length)
        {
            int n = t.Send(payload.AsSpan(offset + total, Math.Min(65536, payload.Length - offset - total)));
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static int ReadAll(Socket socket, int expected)
    {
        byte[] buffer = new byte[65536];
        int total = 0;
        while (total < expected)
        {
            int n = socket.Receive(buffer);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>Reads a byte, then answers it from a deferred write (so that every round arms and fires the write filter).</summary>
    private sealed class PingPongWithWrite(BasePoller poller) : Transport(poller)
    {
        private readonly byte[] _buffer = new byte[16];
        private int _pending;

        public int Writes { get; private set; }

        protected internal override void HandleRead()
        {
            int n = Recv(_buffer);
            if (n > 0)
            {
                _pending = n;
                Poller.DeferWrite(this);
            }
        }

        protected internal override void HandleWrite()
        {
            Send(_buffer.AsSpan(0, _pending));
            Writes++;
        }
    }

    private sealed class EchoListener(BasePoller p) : Listener(p)
    {
        protected override void HandleAccept(Socket accepted) =>
            new RecordingTransport(Poller) { OnRead = t => Echo(t) }.SetSocket(accepted);

        private static void Echo(RecordingTransport t)
        {
            byte[] buffer = new byte[4096];
            try
            {
                int n = t.Recv(buffer);
                t.Send(buffer.AsSpan(0, n));
            }
            catch (System.IO.EndOfStreamException)
            {
                t.Close();
            }
        }
    }
}
