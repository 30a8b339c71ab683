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
/// io_uring's receives through the ring (docs/io_uring.md, "Receives through the ring"): a
/// channel that only reads is watched with a receive request into a buffer of the ring, and
/// <see cref="Transport.Recv(Span{byte})"/> copies what it brought; every byte still arrives
/// once and in order, through partial reads, pauses, write interest, a DelChannel and a ring
/// with every buffer held.
/// </summary>
[Trait("Lane", "linux")]
[SupportedOSPlatform("linux")]
public class IoUringReceiveTests
{
    [Fact]
    public void A_channel_that_only_reads_gets_bytes_the_kernel_received_before_its_handler_ran()
    {
        using var poller = new IoUringPoller(receiveThroughRing: true);
        Assert.True(poller.ReceivesThroughRing);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        int inSocket = -1;
        string got = "";
        byte[] buffer = new byte[64];
        channel.OnRead = c =>
        {
            inSocket = c.Socket!.Available; // what a receive call would read: nothing, the ring has it
            got = Encoding.ASCII.GetString(buffer, 0, c.Recv(buffer));
        };
        peer.Send("PING\r\n"u8);
        Wait.Until(poller, () => channel.Reads == 1, "the read");

        Assert.Equal(0, inSocket);
        Assert.Equal("PING\r\n", got);
        Assert.Equal(0, poller.HeldReceiveBuffers);
    }

    [Fact]
    public void Bytes_a_handler_leaves_unread_come_at_the_next_dispatches_in_order_with_no_new_data()
    {
        using var poller = new IoUringPoller(receiveThroughRing: true);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var pieces = new List<string>();
        byte[] three = new byte[3];
        channel.OnRead = c =>
        {
            int n = c.Recv(three);
            if (n > 0)
            {
                pieces.Add(Encoding.ASCII.GetString(three, 0, n));
            }
        };
        peer.Send("abcdefghij"u8);
        Wait.Until(poller, () => string.Concat(pieces) == "abcdefghij", "every byte, three at a time");

        Assert.Equal(["abc", "def", "ghi", "j"], pieces);
        Assert.Equal(0, poller.HeldReceiveBuffers);
    }

    [Fact]
    public void A_pause_keeps_the_bytes_held_without_waking_and_a_resume_delivers_them()
    {
        using var poller = new IoUringPoller(receiveThroughRing: true);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var got = new StringBuilder();
        byte[] two = new byte[2];
        channel.OnRead = c =>
        {
            int n = c.Recv(two);
            got.Append(Encoding.ASCII.GetString(two, 0, n));
            if (got.Length == 2)
            {
                c.PauseReading();
            }
        };
        peer.Send("0123456789"u8);
        Wait.Until(poller, () => got.Length == 2, "the first two bytes");
        Assert.Equal(1, poller.HeldReceiveBuffers); // the other eight wait in the ring's buffer

        TimeSpan cpuBefore = OsResources.ThreadCpuTime();
        poller.Loop(TimeSpan.FromMilliseconds(300));
        TimeSpan cpu = OsResources.ThreadCpuTime() - cpuBefore;
        Assert.Equal(1, channel.Reads);
        Assert.True(cpu < TimeSpan.FromMilliseconds(100), $"{cpu.TotalMilliseconds} ms of CPU while paused");

        channel.ResumeReading();
        Wait.Until(poller, () => got.Length == 10, "the rest after resuming");
        Assert.Equal("0123456789", got.ToString());
        Assert.Equal(0, poller.HeldReceiveBuffers);
    }

    [Fact]
    public void A_resume_while_a_full_socket_keeps_a_poll_out_delivers_the_held_bytes()
    {
        // The channel holds bytes, and its writes fill the socket (the peer does not read): its
        // poll watches writing. Paused and resumed, it hears of its held bytes at once, not when
        // the peer sends more.
        using var poller = new IoUringPoller(receiveThroughRing: true);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var got = new StringBuilder();
        byte[] two = new byte[2];
        byte[] lots = new byte[1 << 20];
        channel.HighWatermark = 64 << 20;
        channel.OnRead = c =>
        {
            got.Append(Encoding.ASCII.GetString(two, 0, c.Recv(two)));
            if (got.Length == 2)
            {
                for (int i = 0; i < 16; i++)
                {
                    c.Write(lots);
                }

                c.PauseReading();
            }
        };
        peer.Send("0123456789"u8);
        Wait.Until(poller, () => got.Length == 2, "the first two bytes");
        Assert.True(channel.QueuedBytes > 0, "the socket took every byte: nothing keeps a poll out");
        poller.Loop(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, channel.Reads);

        channel.ResumeReading();
        Wait.Until(poller, () => got.Length == 10, "the held bytes after resuming, the peer sending nothing more", TimeSpan.FromSeconds(5));
        Assert.Equal("0123456789", got.ToString());
        Assert.True(channel.QueuedBytes > 0, "the peer read nothing, so the writes still wait");
    }

    [Fact]
    public void A_channel_that_read_its_held_bytes_while_its_writes_wait_hears_of_new_bytes()
    {
        // While it holds bytes, its poll watches writing only; once they are read, reading too.
        using var poller = new IoUringPoller(receiveThroughRing: true);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var got = new StringBuilder();
        byte[] two = new byte[2];
        byte[] lots = new byte[1 << 20];
        channel.OnRead = c =>
        {
            got.Append(Encoding.ASCII.GetString(two, 0, c.Recv(two)));
            if (got.Length == 2)
            {
                for (int i = 0; i < 16; i++)
                {
                    c.Write(lots);
                }
            }
        };
        peer.Send("0123456789"u8);
        Wait.Until(poller, () => got.Length == 10, "the held bytes, two at a time");
        Assert.True(channel.QueuedBytes > 0, "the socket took every byte: nothing keeps a poll out");

        peer.Send("AB"u8);
        Wait.Until(poller, () => got.Length == 12, "the new bytes, the peer reading nothing", TimeSpan.FromSeconds(5));
        Assert.Equal("0123456789AB", got.ToString());
    }

    [Fact]
    public void A_channel_taken_out_and_added_again_reads_the_bytes_the_ring_held_first()
    {
        using var poller = new IoUringPoller(receiveThroughRing: true);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var got = new StringBuilder();
        byte[] buffer = new byte[4];
        bool reading = true;
        channel.OnRead = c =>
        {
            if (reading)
            {
                int n = c.Recv(buffer);
                got.Append(Encoding.ASCII.GetString(buffer, 0, n));
                reading = false;
            }
        };
        peer.Send("abcdefghij"u8);
        Wait.Until(poller, () => got.Length == 4, "the first four bytes");

        poller.DelChannel(channel);
        Assert.Equal(0, poller.HeldReceiveBuffers); // the transport carries the six it did not read
        peer.Send("KL"u8);
        reading = true;
        channel.OnRead = c =>
        {
            int n;
            while ((n = c.Recv(buffer)) > 0)
            {
                got.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        };
        poller.AddChannel(channel);
        Wait.Until(poller, () => got.Length == 12, "the carried bytes, then the new ones");

        Assert.Equal("abcdefghijKL", got.ToString());
    }

    [Fact]
    public void More_channels_holding_bytes_than_the_ring_has_buffers_still_get_every_byte_once()
    {
        const int Channels = IoUringPoller.ReceiveBufferCount + 44;
        using var poller = new IoUringPoller(receiveThroughRing: true);
        var peers = new List<Socket>();
        var channels = new List<TestChannel>();
        var received = new Dictionary<TestChannel, StringBuilder>();
        bool reading = false;
        for (int i = 0; i < Channels; i++)
        {
            (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
            peers.Add(peer);
            channels.Add(channel);
            received[channel] = new StringBuilder();
            channel.OnRead = c =>
            {
                if (!reading)
                {
                    return; // holds what came: the ring's buffers run out
                }

                Span<byte> sink = stackalloc byte[64];
                int n;
                while ((n = c.Recv(sink)) > 0)
                {
                    received[c].Append(Encoding.ASCII.GetString(sink[..n]));
                }
            };
        }

        try
        {
            for (int i = 0; i < Channels; i++)
            {
                peers[i].Send(Encoding.ASCII.GetBytes($"channel {i:D4} says hello"));
            }

            Wait.Until(poller, () => poller.HeldReceiveBuffers == IoUringPoller.ReceiveBufferCount, "every buffer held");
            Wait.Until(poller, () => channels.TrueForAll(c => c.Reads > 0), "every channel told, held or not");

            reading = true;
            Wait.Until(poller, () => channels.TrueForAll(c => received[c].Length == 23), "every channel's bytes");
            for (int i = 0; i < Channels; i++)
            {
                Assert.Equal($"channel {i:D4} says hello", received[channels[i]].ToString());
            }

            Assert.Equal(0, poller.HeldReceiveBuffers);
        }
        finally
        {
            foreach (Socket peer in peers)
            {
                peer.Dispose();
            }
        }
    }

    [Fact]
    public void Channels_closed_with_bytes_unread_give_their_buffers_back_to_the_ring()
    {
        using var poller = new IoUringPoller(receiveThroughRing: true);
        for (int round = 0; round < 3; round++)
        {
            var pairs = new List<(Socket Peer, TestChannel Channel)>();
            for (int i = 0; i < IoUringPoller.ReceiveBufferCount; i++)
            {
                (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
                channel.OnRead = _ => { }; // reads nothing
                pairs.Add((peer, channel));
                peer.Send("unread"u8);
            }

            // Every round fills every buffer: a buffer a closed channel kept would be missing here.
            Wait.Until(poller, () => poller.HeldReceiveBuffers == IoUringPoller.ReceiveBufferCount, $"every buffer held, round {round}");
            foreach ((Socket peer, TestChannel channel) in pairs)
            {
                channel.Close();
                peer.Dispose();
            }

            Assert.Equal(0, poller.HeldReceiveBuffers);
        }
    }

    [Fact]
    public void A_reset_that_a_receive_request_meets_is_reported_once_as_a_socket_error()
    {
        using var poller = new IoUringPoller(receiveThroughRing: true);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        var errors = new List<SocketError>();
        byte[] buffer = new byte[16];
        int ends = 0;
        channel.OnRead = c =>
        {
            try
            {
                c.Recv(buffer);
            }
            catch (SocketException error)
            {
                errors.Add(error.SocketErrorCode);
            }
            catch (System.IO.EndOfStreamException)
            {
                ends++;
                c.Close();
            }
        };
        poller.Step(TimeSpan.Zero); // the receive request is out
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose(); // a reset
        Wait.Until(poller, () => channel.IsClosed, "the reset, then the end of the stream");

        Assert.Equal([SocketError.ConnectionReset], errors);
        Assert.Equal(1, ends);
    }

    [Fact]
    public void An_echo_whose_writes_back_up_keeps_every_byte_in_order_through_receives_and_polls()
    {
        // The echo's writes fill the socket while the peer does not read: write interest turns
        // the channel's receive request into a poll (a cancel), and back when it drains.
        Echo(new IoUringPoller(receiveThroughRing: true));
    }

    [Fact]
    public void Receives_through_the_ring_work_with_wake_batching()
    {
        Assert.SkipUnless(Pollers.IoUringBatchingAvailable, "io_uring's wake batching needs Linux 6.12");
        Echo(new IoUringPoller(wakeBatching: TimeSpan.FromMicroseconds(50), receiveThroughRing: true));
    }

    private static void Echo(IoUringPoller created)
    {
        using IoUringPoller poller = created;
        const int Total = 4 << 20;
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        byte[] chunk = new byte[3000];
        long mostQueued = 0;
        channel.OnRead = c =>
        {
            int n = c.Recv(chunk);
            if (n > 0)
            {
                c.Write(chunk.AsSpan(0, n));
                mostQueued = Math.Max(mostQueued, c.QueuedBytes);
                if (c.QueuedBytes > 1 << 20)
                {
                    c.PauseReading(); // bounded: the reader waits for the peer to catch up
                }
            }
        };
        channel.OnDrained = c =>
        {
            if (c.ReadingPaused)
            {
                c.ResumeReading();
            }
        };

        byte[] sent = new byte[Total];
        new Random(7).NextBytes(sent);
        byte[] echoed = new byte[Total];
        int got = 0;
        Exception? failure = null;
        var peerThread = new Thread(() =>
        {
            try
            {
                peer.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
                var writer = new Thread(() =>
                {
                    for (int at = 0; at < Total; at += 7919)
                    {
                        peer.Send(sent, at, Math.Min(7919, Total - at), SocketFlags.None);
                    }
                });
                writer.Start();
                Thread.Sleep(100); // the echo backs up first
                while (got < Total)
                {
                    got += peer.Receive(echoed, got, Math.Min(5003, Total - got), SocketFlags.None);
                }

                writer.Join();
            }
            catch (Exception error)
            {
                failure = error;
            }
        });
        peerThread.Start();
        Wait.Until(poller, () => !peerThread.IsAlive, "the whole echo");
        peerThread.Join();

        Assert.Null(failure);
        Assert.True(sent.AsSpan().SequenceEqual(echoed), "the echo differs from what was sent");
        Assert.True(mostQueued > 64 * 1024, $"the echo never backed up ({mostQueued} bytes queued at most)");
    }
}
