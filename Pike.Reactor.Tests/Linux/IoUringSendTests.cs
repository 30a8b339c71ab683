using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Pike.Reactor.Linux;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// io_uring's sends with the wait (docs/io_uring.md, "Sends with the wait"): a handler's
/// <see cref="Transport.Write(ReadOnlySpan{byte})"/> goes as a send request that the next
/// <c>io_uring_enter</c> carries, and every byte still arrives once and in order.
/// </summary>
[Trait("Lane", "linux")]
[SupportedOSPlatform("linux")]
public class IoUringSendTests
{
    [Fact]
    public void A_handlers_write_is_held_by_a_send_request_until_the_next_wait_carries_it()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        long queuedInHandler = -1;
        byte[] one = new byte[1];
        channel.OnRead = c =>
        {
            c.Recv(one);
            c.Write("+PONG\r\n"u8);
            queuedInHandler = c.QueuedBytes; // the request holds them: no send call went
        };
        peer.Send("x"u8);
        Wait.Until(poller, () => channel.Reads == 1, "the read");

        Assert.Equal(7, queuedInHandler);
        Assert.Equal(IoUringPoller.MaxSendWithWait, poller.SendWithWaitLimit);
        byte[] reply = new byte[16];
        peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(reply, 0, peer.Receive(reply)));
        Wait.Until(poller, () => channel.QueuedBytes == 0, "the request's completion");
    }

    [Fact]
    public void A_wait_after_send_requests_still_sleeps_until_an_event_comes()
    {
        // The requests' own completions must not end the wait that carried them: it asks for as
        // many more, so one iteration costs one io_uring_enter, as on a loop that sends at once.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        byte[] one = new byte[1];
        channel.OnRead = c =>
        {
            c.Recv(one);
            c.Write("+OK\r\n"u8);
        };
        peer.Send("x"u8);
        Wait.Until(poller, () => channel.Reads == 1, "the read");
        long enters = poller.Enters;

        poller.Poll(TimeSpan.FromMilliseconds(200)); // carries the request, then sleeps (nothing else comes)

        Assert.Equal(enters + 1, poller.Enters);
        Assert.Equal(0, channel.QueuedBytes); // its completion was dispatched in that iteration
        byte[] reply = new byte[8];
        peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        Assert.Equal(5, peer.Receive(reply));
    }

    [Fact]
    public void A_write_outside_an_iteration_is_sent_at_once()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;

        channel.Write("hello"u8);

        Assert.Equal(0, channel.QueuedBytes);
        byte[] got = new byte[8];
        peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        Assert.Equal(5, peer.Receive(got)); // no Poll: the send call went in Write
    }

    [Fact]
    public void A_Loop_that_returns_submits_the_writes_of_its_last_iteration()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        poller.Post(() => channel.Write("posted"u8));

        poller.Loop(count: 1);

        byte[] got = new byte[8];
        peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        Assert.Equal("posted", Encoding.ASCII.GetString(got, 0, peer.Receive(got))); // no further iteration
    }

    [Fact]
    public void Close_after_a_write_in_the_same_turn_delivers_the_bytes_then_the_end()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        byte[] one = new byte[1];
        channel.OnRead = c =>
        {
            c.Recv(one);
            c.Write("+OK\r\n"u8);
            c.Close(); // the request still in the submission ring goes before the descriptor closes
        };
        peer.Send("x"u8);
        Wait.Until(poller, () => channel.IsClosed, "the close");

        peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        byte[] got = new byte[16];
        int total = 0;
        int n;
        while ((n = peer.Receive(got, total, got.Length - total, SocketFlags.None)) > 0)
        {
            total += n;
        }

        Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(got, 0, total));
    }

    [Fact]
    public void A_descriptor_number_reused_after_a_close_gets_none_of_the_closed_sockets_bytes()
    {
        // The closed channel's request named its descriptor; a socket accepted right after the
        // close may get the same number. The request went at the close: the new socket's peer
        // reads nothing that was not written to it.
        using var poller = new IoUringPoller();
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        using var __ = peerA;
        TestChannel? b = null;
        Socket? peerB = null;
        a.PauseReading(); // no poll in the kernel: the removal itself submits nothing
        poller.Post(() =>
        {
            a.Write("for A"u8);
            a.Close();
            (peerB, b) = TestChannel.OverPair(poller);
        });
        poller.Loop(count: 1);
        using Socket reusedPeer = peerB!;
        poller.Loop(TimeSpan.FromMilliseconds(100));

        peerA.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        byte[] got = new byte[16];
        Assert.Equal("for A", Encoding.ASCII.GetString(got, 0, peerA.Receive(got)));
        Assert.Equal(0, reusedPeer.Available);
        Assert.Equal(0, b!.Socket!.Available); // whichever of the new pair got the number
        b.Close();
    }

    [Fact]
    public void Send_after_a_write_in_the_same_turn_waits_for_the_request_and_keeps_the_order()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        int sentInHandler = -1;
        bool sentLater = false;
        byte[] one = new byte[1];
        channel.OnRead = c =>
        {
            c.Recv(one);
            c.Write("first,"u8);
            sentInHandler = c.Send("second"u8); // the request's fate is not known yet: nothing may go before it
        };
        channel.OnWrite = c =>
        {
            if (!sentLater && c.QueuedBytes == 0)
            {
                Assert.Equal(6, c.Send("second"u8));
                sentLater = true;
            }
        };
        peer.Send("x"u8);
        Wait.Until(poller, () => sentLater, "the second send, from HandleWrite");

        Assert.Equal(0, sentInHandler);
        byte[] got = new byte[32];
        int total = 0;
        peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        while (total < 12)
        {
            total += peer.Receive(got, total, got.Length - total, SocketFlags.None);
        }

        Assert.Equal("first,second", Encoding.ASCII.GetString(got, 0, total));
    }

    [Fact]
    public void Writes_into_a_full_socket_arrive_once_and_in_order()
    {
        // Small buffers and a peer that reads late: requests come back short or with EAGAIN,
        // their bytes return to the front of the queue, and the queue's sends take over.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        peer.ReceiveBufferSize = 4096;
        channel.Socket!.SendBufferSize = 4096;
        const int Blocks = 200;
        const int BlockSize = 3000;
        long mostQueued = 0;
        int written = 0;
        void WriteNext()
        {
            byte[] block = new byte[BlockSize];
            for (int i = 0; i < BlockSize; i++)
            {
                block[i] = (byte)((written * 7) + i);
            }

            channel.Write(block);
            mostQueued = Math.Max(mostQueued, channel.QueuedBytes);
            if (++written < Blocks)
            {
                poller.Post(WriteNext); // the next block in the next iteration
            }
        }

        poller.Post(WriteNext);
        Wait.Until(poller, () => written == Blocks, "every block written");
        Assert.True(mostQueued > 2 * IoUringPoller.MaxSendWithWait, $"the queue never held more than {mostQueued} bytes: the socket never filled");

        var received = new List<byte>(Blocks * BlockSize);
        byte[] buffer = new byte[65536];
        peer.ReceiveTimeout = 50;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (received.Count < Blocks * BlockSize && clock.Elapsed < Wait.Deadline)
        {
            poller.Poll(TimeSpan.FromMilliseconds(1));
            try
            {
                int n = peer.Receive(buffer);
                received.AddRange(new ArraySegment<byte>(buffer, 0, n));
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.TimedOut)
            {
            }
        }

        Assert.Equal(Blocks * BlockSize, received.Count);
        for (int b = 0; b < Blocks; b++)
        {
            for (int i = 0; i < BlockSize; i++)
            {
                if (received[(b * BlockSize) + i] != (byte)((b * 7) + i))
                {
                    Assert.Fail($"byte {i} of block {b} is out of place");
                }
            }
        }

        Wait.Until(poller, () => channel.QueuedBytes == 0, "the queue drained");
    }

    [Fact]
    public void A_request_the_peer_reset_reports_the_reset_and_closes()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        CloseReason? reason = null;
        channel.OnCloseReason = r => reason = r;
        channel.PauseReading(); // the reset reaches the channel through its write only
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose(); // RST
        Wait.For(() => channel.Socket!.Poll(0, SelectMode.SelectError) || channel.Socket.Poll(0, SelectMode.SelectRead), "the reset at the channel's socket");

        poller.Post(() => channel.Write("late"u8));
        Wait.Until(poller, () => channel.IsClosed, "the close the failed request caused");

        Assert.Equal(CloseReason.Reset, reason);
    }

    [Fact]
    public void A_request_that_sent_everything_is_no_drain_as_a_send_call_that_took_it_all_is_none()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        int drained = 0;
        channel.OnDrained = _ => drained++;
        poller.Post(() => channel.Write("abc"u8));

        Wait.Until(poller, () => channel.QueuedBytes == 0 && poller.ChannelCount == 1, "the request's completion");
        poller.Poll(TimeSpan.FromMilliseconds(20));

        Assert.Equal(0, drained);
    }

    [Fact]
    public void ShutdownSend_after_a_write_in_the_same_turn_ends_the_stream_after_the_bytes_without_another_event()
    {
        // The half-close waits for the request's completion: the wait that carries the request
        // returns with it instead of sleeping until some other event.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.PauseReading(); // no other event will come
        poller.Post(() =>
        {
            channel.Write("last"u8);
            channel.ShutdownSend();
        });
        var loop = new System.Threading.Thread(() => poller.Loop(TimeSpan.FromSeconds(10)));
        loop.Start();
        try
        {
            peer.ReceiveTimeout = 5000;
            byte[] got = new byte[16];
            int total = 0;
            int n;
            while ((n = peer.Receive(got, total, got.Length - total, SocketFlags.None)) > 0)
            {
                total += n;
            }

            Assert.Equal("last", Encoding.ASCII.GetString(got, 0, total)); // then the end, within the loop's first seconds
        }
        finally
        {
            poller.Stop();
            loop.Join();
        }
    }
}
