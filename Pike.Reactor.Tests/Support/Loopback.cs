using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor.Tests;

/// <summary>Plain blocking sockets on loopback: the peers the tests drive the reactor with.</summary>
public static class Loopback
{
    /// <summary>A connected pair of TCP sockets (client, server), both blocking.</summary>
    public static (Socket Client, Socket Server) Pair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        Socket server = listener.Accept();
        client.NoDelay = true;
        server.NoDelay = true;
        return (client, server);
    }

    /// <summary>A loopback endpoint nothing listens on (bound and released, so the port was free a moment ago).</summary>
    public static IPEndPoint ClosedPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    /// <summary>A blocking client connected to <paramref name="endpoint"/>.</summary>
    public static Socket Connect(EndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(endpoint);
        socket.NoDelay = true;
        return socket;
    }
}
