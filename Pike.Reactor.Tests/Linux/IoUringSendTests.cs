using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Threading;
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
    public void A_wait_that_carries_send_requests_sleeps_on_for_an_event_one_enter_a_request()
    {
        // A request that sends everything posts no completion (IOSQE_CQE_SKIP_SUCCESS), so it
        // does not end the wait that carried it: a request and its reply cost one io_uring_enter,
        // not one to send and one to wait.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        byte[] sink = new byte[16];
        channel.OnRead = c =>
        {
            c.Recv(sink);
            c.Write("+PONG\r\n"u8);
        };
        const int Requests = 200;
        long enters = 0;
        RunLoopWhile(poller, () =>
        {
            peer.ReceiveTimeout = 5000;
            byte[] reply = new byte[7];
            Exchange(peer, reply); // the first: its poll is armed, the wake-up's too
            long before = poller.Enters;
            for (int i = 0; i < Requests; i++)
            {
                Exchange(peer, reply);
            }

            enters = poller.Enters - before;
        });

        // One per request; a handful more only for interrupted waits.
        Assert.InRange(enters, Requests, Requests + 10);
    }

    [Fact]
    public void Two_writes_in_one_handler_both_arrive_with_no_other_event()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        byte[] one = new byte[1];
        channel.OnRead = c =>
        {
            c.Recv(one);
            c.Write("head,"u8);
            c.Write("body"u8); // behind the first's request: its completion sends it
        };
        RunLoopWhile(poller, () =>
        {
            peer.Send("x"u8);
            Assert.Equal("head,body", ReceiveText(peer, 9));
        });
    }

    [Fact]
    public void Writes_into_a_full_socket_arrive_once_and_in_order_while_the_loop_sleeps()
    {
        // No stepping from the test: the loop sleeps in its waits, and every short or EAGAIN
        // request must still get its bytes out once the peer reads.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        peer.ReceiveBufferSize = 4096;
        channel.Socket!.SendBufferSize = 4096;
        const int Blocks = 50;
        const int BlockSize = 3000;
        int written = 0;
        void WriteNext()
        {
            channel.Write(Block(written, BlockSize));
            if (++written < Blocks)
            {
                poller.Post(WriteNext);
            }
        }

        RunLoopWhile(poller, () =>
        {
            poller.Post(WriteNext);
            Wait.For(() => Volatile.Read(ref written) == Blocks, "every block written");
            Thread.Sleep(100); // the loop asleep, the socket full
            peer.ReceiveTimeout = 5000;
            byte[] all = new byte[Blocks * BlockSize];
            int total = 0;
            while (total < all.Length)
            {
                total += peer.Receive(all, total, all.Length - total, SocketFlags.None);
            }

            for (int b = 0; b < Blocks; b++)
            {
                Assert.True(all.AsSpan(b * BlockSize, BlockSize).SequenceEqual(Block(b, BlockSize)), $"block {b} is not where it belongs");
            }
        });
    }

    [Fact]
    public void After_Loop_returned_nothing_is_held_a_write_goes_at_once_and_Close_loses_nothing()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        poller.Post(() => channel.Write("one,"u8));
        poller.Loop(count: 1);

        Assert.Equal(0, channel.QueuedBytes); // the request's completion was reported as Loop returned
        channel.Write("two"u8);
        Assert.Equal(0, channel.QueuedBytes);
        channel.Close();

        Assert.Equal("one,two", ReceiveText(peer, 7));
        Assert.Equal(0, peer.Receive(new byte[1])); // then the end
    }

    [Fact]
    public void A_request_out_across_DelChannel_and_AddChannel_completes_and_writing_goes_on()
    {
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        poller.Post(() =>
        {
            channel.Write("abc"u8);
            poller.DelChannel(channel);
            poller.AddChannel(channel);
        });
        poller.Loop(count: 1);
        poller.Post(() => channel.Write("def"u8));
        poller.Loop(count: 1);

        Assert.Equal("abcdef", ReceiveText(peer, 6));
        Assert.Equal(0, channel.QueuedBytes);
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
    public void A_close_with_no_poll_in_the_kernel_still_sends_the_request_before_the_descriptor_closes()
    {
        // The request names the descriptor: left in the submission ring past the close it would
        // meet a closed descriptor, or the socket that gets the number next. Close submits it.
        using var poller = new IoUringPoller();
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        using var __ = peerA;
        a.PauseReading(); // no poll in the kernel: the removal itself submits nothing
        poller.Post(() =>
        {
            a.Write("for A"u8);
            a.Close();
        });
        poller.Loop(count: 1);

        Assert.Equal("for A", ReceiveText(peerA, 5, toEnd: true));
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
        const int Blocks = 50;
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
        RunLoopWhile(poller, () => Assert.Equal("last", ReceiveText(peer, 4, toEnd: true))); // then the end, with no other event
    }

    [Fact]
    public void A_request_submitted_in_a_dispatch_is_reported_before_the_loop_sleeps_again()
    {
        // B's Close submits every request queued so far, A's among them: the kernel has taken it
        // and it sent everything, so no completion will ever come for it. A's next write waits
        // behind it; the wait that follows must not sleep before the request is reported.
        using var poller = new IoUringPoller();
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        (Socket peerB, TestChannel b) = TestChannel.OverPair(poller);
        using var _ = peerA;
        using var __ = peerB;
        a.PauseReading(); // no other event will come
        b.PauseReading();
        long queuedBehind = -1;
        poller.Post(() =>
        {
            a.Write("one,"u8);
            b.Write("bye"u8);
            b.Close();
            a.Write("two"u8);
            queuedBehind = a.QueuedBytes;
        });
        RunLoopWhile(poller, () =>
        {
            Assert.Equal("one,two", ReceiveText(peerA, 7));
            Assert.Equal("bye", ReceiveText(peerB, 3, toEnd: true));
        });

        Assert.Equal(7, queuedBehind); // "two" waited behind the request the close submitted
    }

    [Fact]
    public void A_request_a_full_ring_submits_while_completions_are_reported_keeps_its_own_result()
    {
        // A one-entry ring: reporting A's request makes A queue the bytes behind it as a second
        // request, and A's writability handler writes to D (whose socket is full) and to E, so
        // each new request submits the one before it in the middle of the report. D's request
        // comes back EAGAIN; its completion was not in the ring when the report read it, and
        // its bytes must not be taken for sent.
        using var poller = new IoUringPoller(1);
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        (Socket peerD, TestChannel d) = TestChannel.OverPair(poller);
        (Socket peerE, TestChannel e) = TestChannel.OverPair(poller);
        using var _ = peerA;
        using var __ = peerD;
        using var ___ = peerE;
        a.PauseReading();
        d.PauseReading();
        e.PauseReading();
        peerD.ReceiveBufferSize = 4096;
        d.Socket!.SendBufferSize = 4096;
        int filled = FillUntilFull(d.Socket);
        a.LowWatermark = 32;
        a.HighWatermark = 64;
        int handlerWrites = 0;
        a.OnWritabilityChanged = c =>
        {
            if (c.IsWritable && handlerWrites++ == 0)
            {
                d.Write("x"u8);
                e.Write("y"u8);
            }
        };
        poller.Post(() =>
        {
            a.Write(new byte[50]);
            a.Write(new byte[20]); // past the high watermark: A waits for its request's completion
        });
        RunLoopWhile(poller, () =>
        {
            Assert.Equal(70, ReceiveAll(peerA, 70).Length);
            Assert.Equal("y", ReceiveText(peerE, 1));
            byte[] all = ReceiveAll(peerD, filled + 1);
            Assert.Equal((byte)'x', all[^1]);
        });

        Assert.Equal(1, handlerWrites);
    }

    [Fact]
    public void A_close_whose_submission_the_kernel_refuses_still_sends_the_bytes_before_the_end()
    {
        // The enter a Close makes to submit its request takes nothing (EBUSY): the request must
        // not be left in the ring to reach whatever socket gets the descriptor's number next.
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.PauseReading();
        poller.Post(() =>
        {
            channel.Write("last"u8);
            CloseWithSubmissionRefused(channel);
        });
        RunLoopWhile(poller, () => Assert.Equal("last", ReceiveText(peer, 4, toEnd: true)));
    }

    [Fact]
    public void A_request_a_refused_close_sends_with_a_send_call_and_finds_the_socket_full_still_gets_its_bytes_out()
    {
        // C's Close finds its enter refused: B's request, queued before, goes with a send call
        // there, into B's full socket (EAGAIN). Nothing else will post a completion, B waits
        // for nothing (its queue is empty), and the loop must still not sleep before the
        // result is reported and B's bytes wait for the socket to take them.
        using var poller = new IoUringPoller();
        (Socket peerB, TestChannel b) = TestChannel.OverPair(poller);
        (Socket peerC, TestChannel c) = TestChannel.OverPair(poller);
        using var _ = peerB;
        using var __ = peerC;
        b.PauseReading();
        c.PauseReading();
        peerB.ReceiveBufferSize = 4096;
        b.Socket!.SendBufferSize = 4096;
        int filled = FillUntilFull(b.Socket);
        poller.Post(() =>
        {
            b.Write("x"u8);
            c.Write("c"u8);
            CloseWithSubmissionRefused(c);
        });
        RunLoopWhile(poller, () =>
        {
            Assert.Equal("c", ReceiveText(peerC, 1, toEnd: true));
            Thread.Sleep(50); // the loop asleep, if it can
            byte[] all = ReceiveAll(peerB, filled + 1);
            Assert.Equal((byte)'x', all[^1]);
        });
    }

    [Fact]
    public void A_transport_that_writes_twice_a_turn_every_turn_keeps_the_send_arena_small()
    {
        // Each turn the first write is a request and the second waits behind it; the report of
        // one turn's request queues the bytes behind it as the next, so some request is always
        // out. The arena must still not creep towards full (then every write would be a send call).
        using var poller = new IoUringPoller();
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.PauseReading();
        const int Turns = 400;
        const int Half = 500;
        int turns = 0;
        int mostUsed = 0;
        void Turn()
        {
            mostUsed = Math.Max(mostUsed, poller.SendArenaUsed);
            channel.Write(Block(2 * turns, Half));
            channel.Write(Block((2 * turns) + 1, Half));
            if (++turns < Turns)
            {
                poller.Post(Turn);
            }
        }

        RunLoopWhile(poller, () =>
        {
            poller.Post(Turn);
            byte[] all = ReceiveAll(peer, Turns * 2 * Half);
            for (int b = 0; b < Turns * 2; b++)
            {
                Assert.True(all.AsSpan(b * Half, Half).SequenceEqual(Block(b, Half)), $"block {b} is not where it belongs");
            }
        });

        Assert.Equal(IoUringPoller.MaxSendWithWait, poller.SendWithWaitLimit); // the writes went as requests
        Assert.InRange(mostUsed, Half, 8 * Half);
    }

    /// <summary>Runs the loop on its own thread while <paramref name="peer"/> works on this one; rethrows what either threw.</summary>
    private static void RunLoopWhile(IoUringPoller poller, Action peer)
    {
        Exception? failure = null;
        var loop = new Thread(() =>
        {
            try
            {
                poller.Loop(Wait.Deadline);
            }
            catch (Exception error)
            {
                failure = error;
            }
        });
        loop.Start();
        try
        {
            peer();
        }
        finally
        {
            poller.Stop();
            loop.Join();
        }

        if (failure is not null)
        {
            throw new InvalidOperationException("the loop failed", failure);
        }
    }

    /// <summary>Reads <paramref name="length"/> bytes (5 s at most for each receive); with <paramref name="toEnd"/>, then the end of the stream.</summary>
    private static string ReceiveText(Socket peer, int length, bool toEnd = false)
    {
        peer.ReceiveTimeout = 5000;
        byte[] got = new byte[length + 1];
        int total = 0;
        while (total < length)
        {
            int n = peer.Receive(got, total, got.Length - total, SocketFlags.None);
            Assert.True(n > 0, $"the stream ended after {total} of {length} bytes");
            total += n;
        }

        if (toEnd)
        {
            Assert.Equal(0, peer.Receive(got, total, got.Length - total, SocketFlags.None));
        }

        return Encoding.ASCII.GetString(got, 0, total);
    }

    /// <summary>Closes <paramref name="channel"/> while the enter its close makes takes nothing, as with EBUSY.</summary>
    private static void CloseWithSubmissionRefused(TestChannel channel)
    {
        IoUringPoller.SimulatedSubmitBusy = true;
        try
        {
            channel.Close();
        }
        finally
        {
            IoUringPoller.SimulatedSubmitBusy = false;
        }
    }

    /// <summary>Sends on <paramref name="socket"/> (non-blocking) until it takes nothing more, also after a pause for the peer's acknowledgements; returns the bytes it took.</summary>
    private static int FillUntilFull(Socket socket)
    {
        byte[] chunk = new byte[1024];
        int total = 0;
        for (int pass = 0; pass < 20; pass++)
        {
            int before = total;
            while (socket.Send(chunk, 0, chunk.Length, SocketFlags.None, out SocketError error) is var n && error == SocketError.Success)
            {
                total += n;
            }

            if (pass > 0 && total == before)
            {
                return total;
            }

            Thread.Sleep(20);
        }

        throw new InvalidOperationException("the socket kept taking bytes");
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes (5 s at most for each receive).</summary>
    private static byte[] ReceiveAll(Socket peer, int length)
    {
        peer.ReceiveTimeout = 5000;
        byte[] got = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = peer.Receive(got, total, length - total, SocketFlags.None);
            Assert.True(n > 0, $"the stream ended after {total} of {length} bytes");
            total += n;
        }

        return got;
    }

    private static void Exchange(Socket peer, byte[] reply)
    {
        peer.Send("x"u8);
        int total = 0;
        while (total < reply.Length)
        {
            total += peer.Receive(reply, total, reply.Length - total, SocketFlags.None);
        }
    }

    private static byte[] Block(int index, int size)
    {
        byte[] block = new byte[size];
        for (int i = 0; i < size; i++)
        {
            block[i] = (byte)((index * 7) + i);
        }

        return block;
    }
}
