using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Pike.Reactor.Windows;
using Xunit;

namespace Pike.Reactor.Tests.Windows;

/// <summary>
/// The handle count of the whole process around a thousand connections on <see cref="IocpPoller"/>:
/// in <see cref="ProcessWideCollection"/>, since a test running beside it would move the count.
/// </summary>
[Trait("Lane", "windows")]
[Collection(nameof(ProcessWideCollection))]
[SupportedOSPlatform("windows")]
public class IocpHandleLeakTests
{
    [Fact]
    public void A_thousand_connections_echo_on_iocp_and_every_handle_comes_back()
    {
        const int Connections = 1000;
        using (var warmUp = new IocpPoller())
        {
            // First use loads Winsock and the AFD helper's driver state; count after that.
        }

        int handlesBefore = OsResources.OpenHandles();
        int handlesDuring;
        var p = new IocpPoller();
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var clients = new List<RecordingClient>(Connections);
        for (int i = 0; i < Connections; i++)
        {
            var client = new RecordingClient(p) { Greeting = [(byte)i, 1, 2, 3] };
            client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
            client.Connect(server.LocalEndPoint!);
            clients.Add(client);
        }

        WindowsTestSupport.RunUntil(p, () => clients.TrueForAll(c => c.Received == 4), seconds: 60, what: $"{Connections} echoes");
        Assert.True(clients.TrueForAll(c => c.Error is null && !c.CloseCalled));
        Assert.Equal((2 * Connections) + 1, p.ChannelCount);

        // Every connection is open at once: the handle count must show them (two sockets each),
        // or the comparison below would prove nothing.
        handlesDuring = OsResources.OpenHandles();
        Assert.True(handlesDuring >= handlesBefore + Connections, $"{handlesDuring} handles with {2 * Connections} sockets open, {handlesBefore} before");

        foreach (RecordingClient client in clients)
        {
            client.Close();
        }

        WindowsTestSupport.RunUntil(p, () => p.ChannelCount == 1, seconds: 60, what: "the server side to see every close");
        WindowsTestSupport.RunUntil(p, () => p.InFlight == 1, what: "the cancelled polls to come back");
        p.Dispose();
        Assert.Equal(0, p.InFlight);
        Assert.Equal(0, p.Leaked);
        OsResources.AssertNoLeak(handlesBefore);
    }
}
