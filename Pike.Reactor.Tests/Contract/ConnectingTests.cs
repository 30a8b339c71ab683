using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>Connecting by host name (resolved off the loop thread) and with a timeout.</summary>
[Trait("Lane", "contract")]
public class ConnectingTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_host_name_is_resolved_and_connected(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(new DnsEndPoint("localhost", ((IPEndPoint)listener.EndPoint).Port));
        Assert.Throws<InvalidOperationException>(() => client.Connect(listener.EndPoint)); // one connect at a time
        Wait.Until(poller, () => client.ConnectedCalled, "the connect to localhost");
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)client.Address!).Address);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_connect_that_does_not_finish_in_time_fails_with_TimedOut(string name)
    {
        using BasePoller poller = Pollers.Create(name);

        // A listener that never accepts, its backlog filled: the kernel drops the next SYN, so
        // the connect stays in progress (Linux answers nothing once the accept queue is full).
        using var full = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        full.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        full.Listen(0);
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                try
                {
                    filler.Connect(full.LocalEndPoint!);
                }
                catch (SocketException)
                {
                }

                fillers.Add(filler);
            }

            var client = new TestChannel(poller) { OnError = (_, _) => { } };
            client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
            client.Connect(full.LocalEndPoint!, TimeSpan.FromMilliseconds(300));
            Wait.Until(poller, () => client.Errors.Count > 0, "the connect timeout");
            var error = Assert.IsType<SocketException>(Assert.Single(client.Errors));
            Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
            Assert.False(client.ConnectedCalled);
            Assert.Throws<ArgumentOutOfRangeException>(() => new TestChannel(poller).Connect(full.LocalEndPoint!, TimeSpan.Zero));
            client.Close();
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_timeout_that_does_not_fire_leaves_a_connected_channel_alone(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(listener.EndPoint, TimeSpan.FromMilliseconds(200));
        Wait.Until(poller, () => client.ConnectedCalled, "the connect");
        poller.Loop(TimeSpan.FromMilliseconds(400));
        Assert.Empty(client.Errors);
        Assert.True(client.Connected);
    }
}
