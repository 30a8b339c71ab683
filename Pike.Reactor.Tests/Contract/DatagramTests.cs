using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>
/// Datagram transports on every poller: an echo of 10,000 datagrams from four peers (two
/// connected, two not) with none mixed up, zero-length and cut datagrams, a connected socket's
/// refused port, multicast on loopback, one-shot write interest, closing in a batch, and the
/// stream calls refused.
/// </summary>
[Trait("Lane", "contract")]
public sealed class DatagramTests
{
    public static TheoryData<string> Names => Pollers.Available;

    [Theory]
    [MemberData(nameof(Names))]
    public void Echo_of_10000_datagrams_from_four_peers_returns_each_peer_its_own(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram server = EchoServer(poller);
        var peers = new EchoPeer[4];
        for (int i = 0; i < peers.Length; i++)
        {
            peers[i] = new EchoPeer(poller, server.EndPoint, id: i, connected: i % 2 == 0, count: 2500);
        }

        Wait.Until(poller, () => Array.TrueForAll(peers, p => p.Done || p.Failure is not null), "every peer's 2,500 echoes", TimeSpan.FromSeconds(90));

        int total = 0;
        foreach (EchoPeer peer in peers)
        {
            Assert.Null(peer.Failure);
            Assert.Equal(2500, peer.Received);
            total += peer.Received;
        }

        Assert.Equal(10_000, total);
        Assert.Empty(server.Errors);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_zero_length_datagram_is_a_datagram_and_an_empty_queue_is_not(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram server = TestDatagram.BoundToLoopback(poller);
        using Socket peer = TestDatagram.PlainPeer();
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var lengths = new List<int>();
        bool emptyAfter = false;
        server.OnRead = s =>
        {
            Span<byte> buffer = stackalloc byte[64];
            while (s.TryReceiveFrom(buffer, from, out int length))
            {
                lengths.Add(length);
            }

            emptyAfter = lengths.Count == 2;
        };

        peer.SendTo([], server.EndPoint);
        peer.SendTo([7, 7, 7], server.EndPoint);
        Wait.Until(poller, () => emptyAfter, "both datagrams read, then nothing");

        Assert.Equal([0, 3], lengths);
        Assert.Empty(server.Errors);
        Assert.Equal(peer.LocalEndPoint, new IPEndPoint(IPAddress.Any, 0).Create(from));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_datagram_longer_than_the_buffer_is_cut_and_said_to_be(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram server = TestDatagram.BoundToLoopback(poller);
        using Socket peer = TestDatagram.PlainPeer();
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var seen = new List<(int Length, bool Truncated, byte First)>();
        server.OnRead = s =>
        {
            var buffer = new byte[10];
            while (s.TryReceiveFrom(buffer, from, out int length, out bool truncated))
            {
                seen.Add((length, truncated, buffer[0]));
            }
        };

        var big = new byte[100];
        Array.Fill(big, (byte)1);
        peer.SendTo(big, server.EndPoint);
        peer.SendTo(new byte[] { 2, 2, 2, 2 }, server.EndPoint);
        Wait.Until(poller, () => seen.Count == 2, "both datagrams");

        Assert.Equal((10, true, (byte)1), seen[0]);
        Assert.Equal((4, false, (byte)2), seen[1]);
        Assert.Empty(server.Errors);
    }

    /// <summary>
    /// Every poller, except under Wine 8 those that wait through Winsock's select: Wine keeps
    /// the refusal in SO_ERROR, returns it from no receive or send, and its select reports no
    /// readiness for it, so nothing can reach the owner (docs/windows.md). iocp and wsapoll
    /// report the socket readable, and the empty read finds the error.
    /// </summary>
    public static TheoryData<string> RefusalPollers
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in Pollers.Names())
            {
                if (!(IsWine && name is "select" or "pike-select"))
                {
                    data.Add(name);
                }
            }

            return data;
        }
    }

    private static bool IsWine =>
        OperatingSystem.IsWindows()
        && System.Runtime.InteropServices.NativeLibrary.TryLoad("ntdll.dll", out nint ntdll)
        && System.Runtime.InteropServices.NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);

    [Theory]
    [MemberData(nameof(RefusalPollers))]
    public void A_connected_socket_hears_of_a_refused_port_as_ConnectionRefused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        int closedPort;
        using (Socket gone = TestDatagram.PlainPeer())
        {
            closedPort = ((IPEndPoint)gone.LocalEndPoint!).Port;
        }

        var client = new TestDatagram(poller);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram);
        client.OnConnect = c => c.TrySend([1, 2, 3]);
        client.OnRead = c =>
        {
            Span<byte> buffer = stackalloc byte[64];
            while (c.TryReceive(buffer, out _))
            {
            }
        };
        client.Connect(new IPEndPoint(IPAddress.Loopback, closedPort));

        // The port-unreachable may come back after the first datagram or be reported at the next
        // send (Linux reports a pending error on either call); keep sending until it is heard.
        using RepeatState resend = Repeat(poller, TimeSpan.FromMilliseconds(100), () =>
        {
            if (client.Connected && client.Errors.Count == 0)
            {
                try
                {
                    client.TrySend([4, 5, 6]);
                }
                catch (SocketException error)
                {
                    client.Errors.Add(error);
                }
            }
        });
        Wait.Until(poller, () => client.Errors.Count > 0, "the refused port reported");

        Assert.True(client.ConnectedCalled);
        SocketException refused = Assert.IsType<SocketException>(client.Errors[0]);
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.False(client.CloseCalled, "a refused datagram is an error, not an end of stream");
    }

    private static readonly IPAddress Group = IPAddress.Parse("239.255.43.21");

    /// <summary>Whether this system lets a socket join a group on the loopback interface (Linux and Wine on it do).</summary>
    public static bool MulticastOnLoopback
    {
        get
        {
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                probe.Bind(new IPEndPoint(IPAddress.Any, 0));
                probe.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(Group, IPAddress.Loopback));
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }

    [Theory(Skip = "this system does not join multicast groups on the loopback interface", SkipUnless = nameof(MulticastOnLoopback))]
    [MemberData(nameof(Names))]
    public void Multicast_on_loopback_arrives_while_joined_and_not_after_leaving(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var receiver = new TestDatagram(poller);
        receiver.Bind(new IPEndPoint(IPAddress.Any, 0));
        int port = ((IPEndPoint)receiver.LocalEndPoint!).Port;
        var got = new List<byte>();
        receiver.OnRead = r =>
        {
            Span<byte> buffer = stackalloc byte[16];
            while (r.TryReceive(buffer, out int length))
            {
                if (length == 1)
                {
                    got.Add(buffer[0]);
                }
            }
        };
        receiver.JoinMulticastGroup(Group, IPAddress.Loopback);

        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.Loopback.GetAddressBytes());
        sender.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
        var groupEnd = new IPEndPoint(Group, port);
        var unicastEnd = new IPEndPoint(IPAddress.Loopback, port);

        sender.SendTo(new byte[] { 1 }, groupEnd);
        Wait.Until(poller, () => got.Contains(1), "the datagram sent to the group");

        receiver.LeaveMulticastGroup(Group, IPAddress.Loopback);
        sender.SendTo(new byte[] { 2 }, groupEnd);
        sender.SendTo(new byte[] { 3 }, unicastEnd); // a marker that follows it
        Wait.Until(poller, () => got.Contains(3), "the unicast marker");

        Assert.Equal([1, 3], got);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_batch_receive_takes_what_waits_with_each_sender_zero_length_and_cut_datagrams_included(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram server = TestDatagram.BoundToLoopback(poller);
        using Socket first = TestDatagram.PlainPeer();
        using Socket second = TestDatagram.PlainPeer();
        var batch = new DatagramBatch(capacity: 16, datagramSize: 32);
        var seen = new List<(int Sender, int Length, bool Truncated, byte Tag)>();
        var calls = new List<int>();
        int countAfterDrain = -1;
        server.OnRead = s =>
        {
            int count;
            while ((count = s.ReceiveBatch(batch)) > 0)
            {
                calls.Add(count);
                for (int i = 0; i < count; i++)
                {
                    int sender = batch.Address(i).Equals(first.LocalEndPoint!.Serialize()) ? 1
                        : batch.Address(i).Equals(second.LocalEndPoint!.Serialize()) ? 2 : 0;
                    Span<byte> datagram = batch.Datagram(i);
                    seen.Add((sender, datagram.Length, batch.IsTruncated(i), datagram.IsEmpty ? (byte)0 : datagram[0]));
                }
            }

            countAfterDrain = batch.Count;
        };

        // 40 datagrams wait before the first read: the batches take 16, 16 and 8.
        for (int i = 0; i < 20; i++)
        {
            first.SendTo(new byte[] { (byte)(i + 1), 1, 1 }, server.EndPoint);
            second.SendTo(i == 5 ? [] : i == 6 ? new byte[100] : new byte[] { (byte)(i + 101) }, server.EndPoint);
        }

        Wait.For(() => server.Socket!.Available > 0, "the datagrams at the socket");
        Wait.Until(poller, () => seen.Count == 40, "40 datagrams");

        Assert.Equal(16, calls[0]);
        Assert.Equal(40, calls.Sum());
        List<(int Sender, int Length, bool Truncated, byte Tag)> fromFirst = seen.FindAll(d => d.Sender == 1);
        List<(int Sender, int Length, bool Truncated, byte Tag)> fromSecond = seen.FindAll(d => d.Sender == 2);
        Assert.Equal(20, fromFirst.Count);
        Assert.Equal(20, fromSecond.Count);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (byte)i), fromFirst.Select(d => d.Tag));
        Assert.True(fromFirst.TrueForAll(d => d.Length == 3 && !d.Truncated));
        Assert.Equal((2, 0, false, (byte)0), fromSecond[5]);
        Assert.Equal((2, 32, true, (byte)0), fromSecond[6]);
        Assert.Equal((2, 1, false, (byte)108), fromSecond[7]);
        Assert.Equal(0, countAfterDrain); // the last call found none
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Datagram(0));
        Assert.Empty(server.Errors);
    }

    [Fact]
    public void A_batch_refuses_bad_sizes_and_a_family_too_small_for_the_socket()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DatagramBatch(0, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DatagramBatch(1025, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DatagramBatch(8, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DatagramBatch(8, 65_536));
        Assert.Throws<ArgumentException>(() => new DatagramBatch(8, 100, AddressFamily.Unix));

        using BasePoller poller = PollerFactory.Create();
        var v6 = new TestDatagram(poller);
        v6.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Dgram);
        Assert.Throws<ArgumentException>(() => v6.ReceiveBatch(new DatagramBatch(8, 100, AddressFamily.InterNetwork)));
        Assert.Equal(0, v6.ReceiveBatch(new DatagramBatch(8, 100, AddressFamily.InterNetworkV6)));
        Assert.Throws<ArgumentNullException>(() => v6.ReceiveBatch(null!));
        v6.Close();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Write_interest_on_a_datagram_socket_is_one_shot(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram channel = TestDatagram.BoundToLoopback(poller);
        poller.DeferWrite(channel);
        Wait.Until(poller, () => channel.Writes == 1, "one HandleWrite");
        for (int i = 0; i < 5; i++)
        {
            poller.Step(TimeSpan.FromMilliseconds(20));
        }

        Assert.Equal(1, channel.Writes);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_datagram_socket_closed_in_a_batch_gets_no_further_callback(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var channels = new List<TestDatagram>();
        using Socket peer = TestDatagram.PlainPeer();
        for (int i = 0; i < 10; i++)
        {
            channels.Add(TestDatagram.BoundToLoopback(poller));
        }

        foreach (TestDatagram channel in channels)
        {
            channel.OnRead = _ => channels.ForEach(c => c.Close());
            peer.SendTo(new byte[] { 9 }, channel.EndPoint);
        }

        Wait.For(() => channels.TrueForAll(c => c.Socket!.Available > 0), "a datagram at every socket");
        Wait.Until(poller, () => channels.Exists(c => c.Reads > 0), "the first read");
        for (int i = 0; i < 3; i++)
        {
            poller.Step(TimeSpan.FromMilliseconds(20));
        }

        Assert.Single(channels.FindAll(c => c.Reads > 0));
        Assert.True(channels.TrueForAll(c => c.IsClosed));
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Bad_input_is_refused_and_changes_nothing(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram channel = TestDatagram.BoundToLoopback(poller);
        byte[] buffer = new byte[16];

        Assert.Throws<InvalidOperationException>(() => channel.Recv(buffer));
        Assert.Throws<InvalidOperationException>(() => channel.Send(buffer));
        Assert.Throws<InvalidOperationException>(() => channel.Write(buffer));
        Assert.Throws<ArgumentNullException>(() => channel.TryReceiveFrom(buffer, null!, out _));
        Assert.Throws<ArgumentNullException>(() => channel.TrySendTo(buffer, null!));
        Assert.Throws<ArgumentException>(() => channel.TryReceiveFrom(buffer, new SocketAddress(AddressFamily.InterNetwork, 8), out _));
        Assert.Throws<ArgumentException>(() => channel.JoinMulticastGroup(IPAddress.Loopback));
        Assert.Throws<ArgumentException>(() => channel.JoinMulticastGroup(Group, IPAddress.IPv6Loopback));
        Assert.Throws<ArgumentOutOfRangeException>(() => channel.JoinMulticastGroup(Group, -1));
        Assert.Throws<InvalidOperationException>(() => channel.Bind(new IPEndPoint(IPAddress.Loopback, 0)));

        // Nothing changed: the socket still receives, and an empty queue is still a false.
        Assert.False(channel.TryReceive(buffer, out _));
        using Socket peer = TestDatagram.PlainPeer();
        peer.SendTo(new byte[] { 5 }, channel.EndPoint);
        int length = -1;
        channel.OnRead = c => c.TryReceive(buffer, out length);
        Wait.Until(poller, () => length == 1, "the datagram after the refusals");

        // A stream socket under a DatagramTransport is refused by the datagram calls.
        var stream = new TestDatagram(poller);
        stream.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        Assert.Throws<InvalidOperationException>(() => stream.TryReceive(buffer, out _));
        stream.Close();

        channel.Close();
        Assert.Throws<ObjectDisposedException>(() => channel.TryReceive(buffer, out _));
        Assert.Throws<ObjectDisposedException>(() => channel.TrySendTo(buffer, peer.LocalEndPoint!.Serialize()));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_bind_the_system_refuses_leaves_the_transport_usable(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using Socket taken = TestDatagram.PlainPeer();
        var channel = new TestDatagram(poller);

        SocketException refused = Assert.Throws<SocketException>(() => channel.Bind(taken.LocalEndPoint!));
        Assert.Equal(SocketError.AddressAlreadyInUse, refused.SocketErrorCode);
        Assert.False(channel.IsClosed);
        Assert.Null(channel.Socket);
        Assert.Equal(0, poller.ChannelCount);

        channel.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // another address: the transport works
        taken.SendTo(new byte[] { 1 }, channel.EndPoint);
        int length = -1;
        channel.OnRead = c => c.TryReceive(new byte[8], out length);
        Wait.Until(poller, () => length == 1, "a datagram at the second address");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_graceful_close_of_a_datagram_transport_closes_it_at_once(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestDatagram channel = TestDatagram.BoundToLoopback(poller);
        Assert.Throws<InvalidOperationException>(() => channel.ShutdownSend());
        Assert.False(channel.IsClosed);

        channel.CloseAfterFlush(TimeSpan.FromSeconds(5));

        Assert.True(channel.IsClosed);
        Assert.Equal(0, poller.ChannelCount);
    }

    [Fact]
    public void Datagram_calls_from_another_thread_are_refused_while_the_loop_runs()
    {
        using BasePoller poller = PollerFactory.Create();
        TestDatagram channel = TestDatagram.BoundToLoopback(poller);
        var seen = new List<Exception?>();
        var thread = new System.Threading.Thread(() => poller.Loop(TimeSpan.FromSeconds(20)));
        poller.Post(() =>
        {
            var other = new System.Threading.Thread(() =>
            {
                var calls = new Action[]
                {
                    () => channel.TryReceive(new byte[8], out _),
                    () => channel.TryReceiveFrom(new byte[8], new SocketAddress(AddressFamily.InterNetwork), out _),
                    () => channel.TrySendTo(new byte[8], channel.EndPoint.Serialize()),
                    () => channel.TrySend(new byte[8]),
                    () => channel.ReceiveBatch(new DatagramBatch(4, 64)),
                    () => channel.JoinMulticastGroup(Group),
                    () => channel.Bind(new IPEndPoint(IPAddress.Loopback, 0)),
                };
                foreach (Action call in calls)
                {
                    try
                    {
                        call();
                        seen.Add(null);
                    }
                    catch (Exception error)
                    {
                        seen.Add(error);
                    }
                }
            });
            other.Start();
            other.Join();
            poller.Stop();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(7, seen.Count);
        Assert.All(seen, error => Assert.IsType<InvalidOperationException>(error));
    }

    /// <summary>An echo server: every datagram goes back to its sender, those the socket does not take queued for HandleWrite.</summary>
    internal static TestDatagram EchoServer(BasePoller poller)
    {
        TestDatagram server = TestDatagram.BoundToLoopback(poller);
        var pending = new Queue<(byte[] Data, SocketAddress To)>();
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var buffer = new byte[2048];
        server.OnRead = s =>
        {
            while (s.TryReceiveFrom(buffer, from, out int length))
            {
                if (pending.Count > 0 || !s.TrySendTo(buffer.AsSpan(0, length), from))
                {
                    var to = new SocketAddress(from.Family, from.Size);
                    from.Buffer.Span[..from.Size].CopyTo(to.Buffer.Span);
                    pending.Enqueue((buffer[..length], to));
                }
            }
        };
        server.OnWrite = s =>
        {
            while (pending.Count > 0 && s.TrySendTo(pending.Peek().Data, pending.Peek().To))
            {
                pending.Dequeue();
            }
        };
        return server;
    }

    private static RepeatState Repeat(BasePoller poller, TimeSpan every, Action action)
    {
        var state = new RepeatState();
        void Tick()
        {
            if (!state.Stopped)
            {
                action();
                state.Timer = poller.CallLater(every, Tick);
            }
        }

        state.Timer = poller.CallLater(every, Tick);
        return state;
    }

    private sealed class RepeatState : IDisposable
    {
        public bool Stopped;
        public IDisposable? Timer;

        public void Dispose()
        {
            Stopped = true;
            Timer?.Dispose();
        }
    }

    /// <summary>
    /// One peer of the echo: keeps a window of datagrams in flight, each naming the peer and a
    /// sequence number and padded with the peer's own byte, and counts what comes back.
    /// </summary>
    private sealed class EchoPeer
    {
        private const int Window = 8;
        private readonly TestDatagram _channel;
        private readonly int _id;
        private readonly bool _connected;
        private readonly int _count;
        private readonly bool[] _seen;
        private readonly SocketAddress _server;
        private readonly SocketAddress _from = new(AddressFamily.InterNetwork);
        private readonly byte[] _out = new byte[80];
        private readonly byte[] _in = new byte[2048];
        private int _next;

        public EchoPeer(BasePoller poller, IPEndPoint server, int id, bool connected, int count)
        {
            _id = id;
            _connected = connected;
            _count = count;
            _seen = new bool[count];
            _server = server.Serialize();
            _channel = TestDatagram.BoundToLoopback(poller);
            _channel.OnRead = _ => Receive();
            _channel.OnWrite = _ => Fill();
            if (connected)
            {
                _channel.OnConnect = _ => Fill();
                _channel.Connect(server);
            }
            else
            {
                Fill();
            }
        }

        public int Received { get; private set; }

        public string? Failure { get; private set; }

        public bool Done => Received == _count;

        private void Fill()
        {
            while (_next < _count && _next - Received < Window)
            {
                int length = 8 + (_next % 64);
                BitConverter.TryWriteBytes(_out.AsSpan(0, 4), _id);
                BitConverter.TryWriteBytes(_out.AsSpan(4, 4), _next);
                _out.AsSpan(8, length - 8).Fill((byte)(_id + 1));
                bool sent = _connected ? _channel.TrySend(_out.AsSpan(0, length)) : _channel.TrySendTo(_out.AsSpan(0, length), _server);
                if (!sent)
                {
                    return; // HandleWrite follows
                }

                _next++;
            }
        }

        private void Receive()
        {
            int length;
            while (_connected ? _channel.TryReceive(_in, out length) : _channel.TryReceiveFrom(_in, _from, out length))
            {
                if (!_connected && !_from.Equals(_server))
                {
                    Failure ??= "a datagram from somewhere other than the server";
                }

                int id = BitConverter.ToInt32(_in, 0);
                int sequence = BitConverter.ToInt32(_in, 4);
                if (length < 8 || id != _id || sequence < 0 || sequence >= _count || length != 8 + (sequence % 64)
                    || _in.AsSpan(8, length - 8).ContainsAnyExcept((byte)(_id + 1)) || _seen[sequence])
                {
                    Failure ??= $"peer {_id} got a datagram not its own or twice (id {id}, sequence {sequence}, {length} bytes)";
                    continue;
                }

                _seen[sequence] = true;
                Received++;
            }

            Fill();
        }
    }
}
