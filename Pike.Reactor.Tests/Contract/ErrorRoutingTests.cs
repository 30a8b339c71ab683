using System;
using System.IO;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class ErrorRoutingTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void An_exception_from_HandleRead_goes_to_HandleError_and_the_loop_goes_on(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        var boom = new InvalidOperationException("handler failed");
        channel.OnRead = c =>
        {
            c.Recv(new byte[100]);
            throw boom;
        };
        channel.OnError = (_, _) => { }; // keep the channel open

        peer.Send(new byte[1]);
        Wait.Until(poller, () => channel.Errors.Count == 1, "HandleError");
        Assert.Same(boom, channel.Errors[0]);
        Assert.False(channel.IsClosed);

        peer.Send(new byte[1]);
        Wait.Until(poller, () => channel.Errors.Count == 2, "the channel to keep working");
    }

    public static TheoryData<string, string> CloseErrors()
    {
        var data = new TheoryData<string, string>();
        foreach (string name in Pollers.Names())
        {
            foreach (string kind in new[] { "eof", "disposed", "reset", "aborted", "notconnected", "shutdown" })
            {
                data.Add(name, kind);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CloseErrors))]
    public void Close_kinds_of_exception_call_HandleClose(string name, string kind)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        Exception thrown = kind switch
        {
            "eof" => new EndOfStreamException(),
            "disposed" => new ObjectDisposedException("socket"),
            "reset" => new SocketException((int)SocketError.ConnectionReset),
            "aborted" => new SocketException((int)SocketError.ConnectionAborted),
            "notconnected" => new SocketException((int)SocketError.NotConnected),
            _ => new SocketException((int)SocketError.Shutdown),
        };
        channel.OnRead = _ => throw thrown;

        peer.Send(new byte[1]);
        Wait.Until(poller, () => channel.CloseCalled, "HandleClose");

        Assert.Empty(channel.Errors);
        Assert.True(channel.IsClosed);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void An_exception_from_HandleError_propagates_and_the_poller_stays_usable(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.OnRead = c =>
        {
            c.Recv(new byte[100]);
            throw new InvalidOperationException("first");
        };
        channel.OnError = (_, e) => throw new ApplicationException("from HandleError", e);

        peer.Send(new byte[1]);
        var escaped = Assert.Throws<ApplicationException>(() => poller.Loop(TimeSpan.FromSeconds(10)));
        Assert.Equal("first", escaped.InnerException!.Message);

        // The poller is not wedged: the next loop dispatches again.
        channel.OnRead = c => c.Recv(new byte[100]);
        peer.Send(new byte[1]);
        Wait.Until(poller, () => channel.Reads == 2, "a read after the escaped exception");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void An_exception_from_HandleClose_propagates(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        channel.OnClose = c =>
        {
            c.Close();
            throw new ApplicationException("from HandleClose");
        };

        peer.Dispose();
        Assert.Throws<ApplicationException>(() => poller.Loop(TimeSpan.FromSeconds(10)));
        Assert.True(channel.IsClosed);
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void The_default_HandleError_closes_the_channel_and_surfaces_the_error(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var channel = new ThrowingReader(poller);
        channel.SetSocket(server);

        peer.Send(new byte[1]);
        var error = Assert.Throws<FormatException>(() => poller.Loop(TimeSpan.FromSeconds(10)));
        Assert.Equal("bad request", error.Message);
        Assert.True(channel.IsClosed);
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void The_default_HandleClose_closes(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        var channel = new ThrowingReader(poller) { ThrowEof = true };
        channel.SetSocket(server);

        peer.Send(new byte[1]);
        poller.Loop(); // ends once nothing is registered
        Assert.True(channel.IsClosed);
        peer.Dispose();
    }

    private sealed class ThrowingReader(BasePoller poller) : Transport(poller)
    {
        public bool ThrowEof { get; init; }

        protected internal override void HandleRead()
        {
            Recv(new byte[16]);
            throw ThrowEof ? new EndOfStreamException() : new FormatException("bad request");
        }
    }
}
