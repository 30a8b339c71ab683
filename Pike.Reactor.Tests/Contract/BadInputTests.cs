using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class BadInputTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Null_arguments_are_refused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var channel = new TestChannel(poller);
        Assert.Throws<ArgumentNullException>(() => poller.AddChannel(null!));
        Assert.Throws<ArgumentNullException>(() => poller.DelChannel(null!));
        Assert.Throws<ArgumentNullException>(() => poller.DeferWrite(null!));
        Assert.Throws<ArgumentNullException>(() => poller.Post(null!));
        Assert.Throws<ArgumentNullException>(() => poller.CallLater(TimeSpan.Zero, null!));
        Assert.Throws<ArgumentNullException>(() => channel.SetSocket(null!));
        Assert.Throws<ArgumentNullException>(() => channel.Connect(null!));
        Assert.Throws<ArgumentNullException>(() => new TestListener(poller).Listen(null!));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Out_of_range_arguments_are_refused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        Assert.Throws<ArgumentOutOfRangeException>(() => poller.Loop(TimeSpan.FromSeconds(-2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => poller.Loop(count: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => poller.Step(TimeSpan.FromSeconds(-2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => poller.CallLater(TimeSpan.FromSeconds(-1), () => { }));
        var listener = new TestListener(poller);
        Assert.Throws<ArgumentOutOfRangeException>(() => listener.Listen(new IPEndPoint(IPAddress.Loopback, 0), 0));
        Assert.Equal(0, poller.ChannelCount - 1);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_channel_added_twice_is_refused_and_keeps_working(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;

        Assert.Throws<InvalidOperationException>(() => poller.AddChannel(channel));
        Assert.Throws<InvalidOperationException>(() => channel.SetSocket(channel.Socket!));
        Assert.Equal(1, poller.ChannelCount);

        peer.Send(new byte[1]);
        Wait.Until(poller, () => channel.Reads == 1, "the channel to still be watched");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void The_same_socket_in_two_transports_is_refused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var first = new TestChannel(poller);
        first.SetSocket(server);
        var second = new TestChannel(poller);

        Assert.Throws<InvalidOperationException>(() => second.SetSocket(server));
        Assert.Null(second.Socket);
        Assert.Equal(1, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_channel_of_another_poller_is_refused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using BasePoller other = Pollers.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var channel = new TestChannel(other);
        channel.SetSocket(server);

        Assert.Throws<InvalidOperationException>(() => poller.AddChannel(channel));
        Assert.Throws<InvalidOperationException>(() => poller.DelChannel(channel));
        Assert.Throws<InvalidOperationException>(() => poller.DeferWrite(channel));
        Assert.Equal(0, poller.ChannelCount);
        Assert.Equal(1, other.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void DeferWrite_and_DelChannel_for_a_channel_not_held_are_refused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var unregistered = new TestChannel(poller);
        Assert.Throws<InvalidOperationException>(() => poller.DeferWrite(unregistered));
        Assert.Throws<InvalidOperationException>(() => poller.DelChannel(unregistered));
        Assert.Throws<InvalidOperationException>(() => poller.AddChannel(unregistered)); // no socket
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Send_Recv_and_Connect_on_a_closed_transport_throw_ObjectDisposed(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.Close();

        Assert.Throws<ObjectDisposedException>(() => channel.Send(new byte[1]));
        Assert.Throws<ObjectDisposedException>(() => channel.Recv(new byte[1]));
        Assert.Throws<ObjectDisposedException>(() => channel.Connect(new IPEndPoint(IPAddress.Loopback, 1)));
        Assert.Throws<ObjectDisposedException>(() => channel.SetSocket(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)));
        Assert.Throws<ObjectDisposedException>(() => channel.PauseReading());
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Send_and_Recv_without_a_socket_throw_InvalidOperation(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var channel = new TestChannel(poller);
        Assert.Throws<InvalidOperationException>(() => channel.Send(new byte[1]));
        Assert.Throws<InvalidOperationException>(() => channel.Recv(new byte[1]));
        Assert.Throws<InvalidOperationException>(() => channel.Connect(new IPEndPoint(IPAddress.Loopback, 1)));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_disposed_poller_refuses_work(string name)
    {
        BasePoller poller = Pollers.Create(name);
        poller.Dispose();
        var channel = new TestChannel(poller);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.Throws<ObjectDisposedException>(() => poller.Loop());
        Assert.Throws<ObjectDisposedException>(() => poller.Step(TimeSpan.Zero));
        Assert.Throws<ObjectDisposedException>(() => poller.Post(() => { }));
        Assert.Throws<ObjectDisposedException>(() => poller.CallLater(TimeSpan.Zero, () => { }));
        Assert.Throws<ObjectDisposedException>(() => channel.SetSocket(socket));
        Assert.Null(channel.Socket);
        poller.Wake(); // harmless after disposal
        poller.Stop();
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Loop_and_Poll_are_not_reentrant(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        Exception? fromLoop = null;
        Exception? fromPoll = null;
        Exception? fromDispose = null;
        poller.Post(() =>
        {
            fromLoop = Record.Exception(() => poller.Loop(TimeSpan.Zero));
            fromPoll = Record.Exception(() => poller.Poll(TimeSpan.Zero));
            fromDispose = Record.Exception(poller.Dispose);
        });
        poller.Loop();

        Assert.IsType<InvalidOperationException>(fromLoop);
        Assert.IsType<InvalidOperationException>(fromPoll);
        Assert.IsType<InvalidOperationException>(fromDispose);
        Assert.False(poller.IsDisposed);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_second_thread_cannot_run_the_loop_or_touch_its_channels(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        using var running = new ManualResetEventSlim();
        var loop = new Thread(() =>
        {
            poller.Post(running.Set);
            poller.Loop();
        });
        loop.Start();
        Assert.True(running.Wait(TimeSpan.FromSeconds(15)));

        Assert.Throws<InvalidOperationException>(() => poller.Loop(TimeSpan.Zero));
        Assert.Throws<InvalidOperationException>(() => poller.Step(TimeSpan.Zero));
        Assert.Throws<InvalidOperationException>(channel.Close);
        Assert.Throws<InvalidOperationException>(() => poller.DeferWrite(channel));
        Assert.Throws<InvalidOperationException>(poller.Dispose);
        Assert.False(channel.IsClosed);

        // Every operation that belongs to the loop thread is refused before it touches the
        // socket: a Send puts nothing on the wire, a Recv takes nothing from it.
        Assert.Throws<InvalidOperationException>(() => channel.Send(new byte[8 << 20]));
        Assert.Equal(0, peer.Available);
        Assert.Throws<InvalidOperationException>(() => channel.Recv(new byte[16]));
        Assert.Throws<InvalidOperationException>(channel.PauseReading);
        Assert.Throws<InvalidOperationException>(channel.ResumeReading);
        Assert.False(channel.ReadingPaused);
        var idle = new TestChannel(poller);
        Assert.Throws<InvalidOperationException>(() => idle.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream));
        Assert.Null(idle.Socket);
        using var unowned = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.Throws<InvalidOperationException>(() => idle.SetSocket(unowned));
        Assert.True(unowned.Blocking, "the refused SetSocket left the socket as it was");
        Assert.Throws<InvalidOperationException>(() => new TestListener(poller)); // its constructor listens
        Assert.Equal(1, poller.ChannelCount);

        poller.Post(channel.Close); // the way to do it: on the loop thread
        Assert.True(loop.Join(TimeSpan.FromSeconds(15)), "Loop() should end once the channel is closed");
        Assert.True(channel.IsClosed);
    }
}
