using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class CloseTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Peer_EOF_calls_HandleClose(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);

        peer.Shutdown(SocketShutdown.Send);
        Wait.Until(poller, () => channel.CloseCalled, "HandleClose after EOF");

        Assert.True(channel.IsClosed);
        Assert.Empty(channel.Errors);
        Assert.Equal(0, poller.ChannelCount);
        peer.Dispose();
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Peer_reset_calls_HandleClose(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);

        // Linger 0 turns the close into a reset (RST).
        peer.LingerState = new LingerOption(true, 0);
        peer.Send(new byte[10]);
        peer.Close();
        Wait.Until(poller, () => channel.CloseCalled, "HandleClose after reset");

        Assert.Empty(channel.Errors);
        Assert.True(channel.IsClosed);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Closing_itself_inside_HandleRead_stops_every_further_callback(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.OnRead = c =>
        {
            c.Recv(new byte[100]);
            poller.DeferWrite(c); // a write interest that must not outlive the close
            c.Close();
        };

        peer.Send(new byte[100]);
        Wait.Until(poller, () => channel.IsClosed, "the channel closing itself");
        peer.Send(new byte[100]);
        poller.Loop(TimeSpan.FromMilliseconds(100));

        Assert.Equal(["read"], channel.Calls);
        Assert.Equal(-1, channel.Fileno);
        Assert.Throws<ObjectDisposedException>(() => channel.Recv(new byte[1]));
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Closing_another_channel_of_the_same_batch_drops_its_event(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        (Socket peerB, TestChannel b) = TestChannel.OverPair(poller);
        a.OnRead = _ => b.Close();
        b.OnRead = _ => a.Close();

        TestChannel.MakeReadable((peerA, a), (peerB, b));
        poller.Step(TimeSpan.FromSeconds(5));

        // Whichever ran first closed the other, whose event in the same batch must be dropped.
        Assert.Equal(1, a.Reads + b.Reads);
        Assert.True(a.IsClosed ^ b.IsClosed);
        Assert.Equal(a.Reads == 1, b.IsClosed);
        Assert.False(a.CloseCalled || b.CloseCalled);
        peerA.Dispose();
        peerB.Dispose();
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Close_is_idempotent_and_Dispose_closes(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;

        channel.Close();
        channel.Close();
        channel.Dispose();

        Assert.True(channel.IsClosed);
        Assert.Equal(0, poller.ChannelCount);
        Assert.Equal(0, peer.Receive(new byte[1])); // the peer sees the close
    }
}
