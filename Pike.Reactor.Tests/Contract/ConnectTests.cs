using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class ConnectTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Connect_success_calls_HandleConnect_and_records_the_address(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        TestChannel client = TestChannel.ConnectTo(poller, listener.EndPoint);
        Assert.False(client.Connected);

        Wait.Until(poller, () => client.ConnectedCalled && listener.Accepted.Count == 1, "connect and accept");

        Assert.True(client.Connected);
        Assert.Equal(listener.EndPoint, client.Address);
        Assert.Equal(["connect"], client.Calls);
        Assert.Empty(client.Errors);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Connect_refused_calls_HandleError_with_the_socket_error(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        TestChannel client = TestChannel.ConnectTo(poller, Loopback.ClosedPort());

        Wait.Until(poller, () => client.Errors.Count > 0, "connect failure");

        var error = Assert.IsType<SocketException>(Assert.Single(client.Errors));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.False(client.ConnectedCalled);
        Assert.False(client.Connected);
        Assert.True(client.IsClosed); // the test channel closes on error
        Assert.Equal(0, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_socket_set_already_connected_is_connected_at_once(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket client, Socket server) = Loopback.Pair();
        using var peer = client;
        var channel = new TestChannel(poller);
        channel.SetSocket(server);

        Assert.True(channel.Connected);
        Assert.Equal(client.LocalEndPoint, channel.Address);
        Assert.False(channel.Socket!.Blocking);
        Assert.Equal(server.SafeHandle.DangerousGetHandle(), channel.Fileno);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Connect_twice_is_refused_and_changes_nothing(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        TestChannel client = TestChannel.ConnectTo(poller, listener.EndPoint);

        Assert.Throws<System.InvalidOperationException>(() => client.Connect(listener.EndPoint));
        Wait.Until(poller, () => client.ConnectedCalled, "the first connect");
        Assert.Throws<System.InvalidOperationException>(() => client.Connect(listener.EndPoint));
        Assert.True(client.Connected);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Listening_on_a_port_in_use_throws_and_registers_nothing(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var first = new TestListener(poller);
        int before = poller.ChannelCount;
        var second = new TestChannel(poller);
        var clash = new ClashListener(poller);

        var error = Assert.Throws<SocketException>(() => clash.Listen(first.EndPoint));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        Assert.Equal(before, poller.ChannelCount);
        Assert.Null(clash.Socket);
        Assert.Null(second.Socket);
    }

    private sealed class ClashListener(BasePoller poller) : Listener(poller)
    {
        protected override void HandleAccept(Socket accepted) => accepted.Dispose();
    }
}
