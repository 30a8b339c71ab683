using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Pike.Reactor.Windows;
using Xunit;

namespace Pike.Reactor.Tests.Windows;

/// <summary>The AFD-poll mechanics of <see cref="IocpPoller"/>: docs/pitfalls.md 14 to 16.</summary>
[Trait("Lane", "windows")]
[SupportedOSPlatform("windows")]
public class IocpPollerTests
{
    [Fact]
    public void Afd_events_never_ask_for_connect()
    {
        // docs/pitfalls.md 14, wepoll 8b7b340: AFD_POLL_CONNECT kept connected sockets writable forever.
        foreach (IoEvents interest in new[] { IoEvents.Read, IoEvents.Write, IoEvents.Read | IoEvents.Write })
        {
            uint events = IocpPoller.AfdEventsFor(interest);
            Assert.Equal(0u, events & Interop.Ntdll.AFD_POLL_CONNECT);
            Assert.NotEqual(0u, events & Interop.Ntdll.AFD_POLL_LOCAL_CLOSE);
            Assert.NotEqual(0u, events & Interop.Ntdll.AFD_POLL_CONNECT_FAIL);
        }

        Assert.Equal(0u, IocpPoller.AfdEventsFor(IoEvents.Read) & Interop.Ntdll.AFD_POLL_SEND);
        Assert.NotEqual(0u, IocpPoller.AfdEventsFor(IoEvents.Write) & Interop.Ntdll.AFD_POLL_SEND);
    }

    [Fact]
    public void Abort_and_connect_failure_are_readable_and_writable()
    {
        Assert.Equal(IoEvents.Read | IoEvents.Write, IocpPoller.ReadinessFor(Interop.Ntdll.AFD_POLL_ABORT));
        Assert.Equal(IoEvents.Read | IoEvents.Write, IocpPoller.ReadinessFor(Interop.Ntdll.AFD_POLL_CONNECT_FAIL));
        Assert.Equal(IoEvents.Read, IocpPoller.ReadinessFor(Interop.Ntdll.AFD_POLL_DISCONNECT));
        Assert.Equal(IoEvents.Read, IocpPoller.ReadinessFor(Interop.Ntdll.AFD_POLL_ACCEPT));
        Assert.Equal(IoEvents.Write, IocpPoller.ReadinessFor(Interop.Ntdll.AFD_POLL_SEND));
    }

    [Fact]
    public unsafe void Base_handle_lookup_falls_back_in_order()
    {
        // docs/pitfalls.md 15, mio #1314: an LSP may refuse SIO_BASE_HANDLE; the SIO_BSP_HANDLE_* codes
        // follow. No LSP can be installed here, so a stand-in refuses the codes a test names
        // and passes the others to the real WSAIoctl.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        nint handle = socket.SafeHandle.DangerousGetHandle();
        Assert.Equal(
            [Interop.Ws2_32.SIO_BASE_HANDLE, Interop.Ws2_32.SIO_BSP_HANDLE_POLL, Interop.Ws2_32.SIO_BSP_HANDLE_SELECT, Interop.Ws2_32.SIO_BSP_HANDLE],
            SocketBaseHandle.LookupOrder.ToArray());
        Assert.True(SocketBaseHandle.TryIoctl(handle, Interop.Ws2_32.SIO_BASE_HANDLE, out nint baseHandle, out _));

        RefusingLsp.Refused = [Interop.Ws2_32.SIO_BASE_HANDLE];
        RefusingLsp.Tried.Clear();
        Assert.Equal(RefusingLsp.PollHandle, SocketBaseHandle.Get(handle, SocketBaseHandle.LookupOrder, &RefusingLsp.TryIoctl));
        Assert.Equal([Interop.Ws2_32.SIO_BASE_HANDLE, Interop.Ws2_32.SIO_BSP_HANDLE_POLL], RefusingLsp.Tried);

        RefusingLsp.Refused = [Interop.Ws2_32.SIO_BASE_HANDLE, Interop.Ws2_32.SIO_BSP_HANDLE_POLL, Interop.Ws2_32.SIO_BSP_HANDLE_SELECT];
        RefusingLsp.Tried.Clear();
        Assert.Equal(RefusingLsp.BspHandle, SocketBaseHandle.Get(handle, SocketBaseHandle.LookupOrder, &RefusingLsp.TryIoctl));
        Assert.Equal(SocketBaseHandle.LookupOrder.ToArray(), RefusingLsp.Tried);

        RefusingLsp.Refused = SocketBaseHandle.LookupOrder.ToArray();
        RefusingLsp.Tried.Clear();
        var error = Assert.Throws<NativeCallException>(() => SocketBaseHandle.Get(handle, SocketBaseHandle.LookupOrder, &RefusingLsp.TryIoctl));
        Assert.Contains("WSAIoctl", error.Message, StringComparison.Ordinal);
        Assert.Equal(RefusingLsp.WsaeOpNotSupp, error.ErrorNumber);
        Assert.Equal(4, RefusingLsp.Tried.Count);
    }

    [Fact]
    public void Connected_idle_socket_is_not_reported_writable()
    {
        // docs/pitfalls.md 14: once connected and without a deferred write, waits stay quiet.
        using var p = new IocpPoller();
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new RecordingClient(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        WindowsTestSupport.RunUntil(p, () => client.ConnectCalled && server.Connections.Count == 1, what: "the connect");
        p.Poll(TimeSpan.FromMilliseconds(50)); // collect what the interest change cancelled
        long before = p.PollCompletions;
        for (int i = 0; i < 5; i++)
        {
            p.Poll(TimeSpan.FromMilliseconds(40));
        }

        Assert.Equal(before, p.PollCompletions);
        Assert.Equal(0, client.Writes);
        Assert.Equal(3, p.InFlight); // one poll per socket: listener, client, accepted
    }

    [Fact]
    public void Socket_closed_behind_the_pollers_back_is_dropped()
    {
        // docs/pitfalls.md 16, wepoll test-auto-drop-on-close: AFD_POLL_LOCAL_CLOSE ends the registration.
        using var p = new IocpPoller();
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new RecordingClient(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        WindowsTestSupport.RunUntil(p, () => client.ConnectCalled && server.Connections.Count == 1, what: "the connect");
        client.Socket!.Dispose();
        WindowsTestSupport.RunUntil(p, () => client.CloseCalled, what: "the local close to reach the channel");
        Assert.Null(client.Error);
        WindowsTestSupport.RunUntil(p, () => server.Connections[0].IsClosed, what: "the peer's end of stream");
        WindowsTestSupport.RunUntil(p, () => p.InFlight == 1, what: "only the listener's poll in flight");
        Assert.Equal(1, p.ChannelCount);
        Assert.False(client.IsRegistered);
    }

    [Fact]
    public void Interest_changes_cancel_and_rearm_one_poll_per_socket()
    {
        // docs/pitfalls.md 16: a pending poll is cancelled and resubmitted, never doubled.
        using var p = new IocpPoller();
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new RecordingClient(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        WindowsTestSupport.RunUntil(p, () => client.ConnectCalled && server.Connections.Count == 1, what: "the connect");
        for (int round = 1; round <= 20; round++)
        {
            p.DeferWrite(client);
            WindowsTestSupport.RunUntil(p, () => client.Writes == round, what: $"deferred write {round}");
            client.PauseReading();
            client.ResumeReading();
            Assert.True(p.InFlight <= 3, $"{p.InFlight} polls in flight for 3 sockets");
        }
    }

    [Fact]
    public void Closing_with_polls_in_flight_frees_them_when_their_completions_arrive()
    {
        using var p = new IocpPoller();
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var clients = new List<RecordingClient>();
        for (int i = 0; i < 20; i++)
        {
            var client = new RecordingClient(p);
            client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
            client.Connect(server.LocalEndPoint!);
            clients.Add(client);
        }

        WindowsTestSupport.RunUntil(p, () => clients.TrueForAll(c => c.ConnectCalled) && server.Connections.Count == 20, what: "20 connects");
        p.Poll(TimeSpan.Zero);
        Assert.Equal(41, p.InFlight);
        foreach (RecordingClient client in clients)
        {
            client.Close();
        }

        foreach (EchoConnection connection in server.Connections)
        {
            connection.Close();
        }

        WindowsTestSupport.RunUntil(p, () => p.InFlight == 1, what: "the cancelled polls' completions");
    }

    [Fact]
    public void Dispose_collects_every_poll_in_flight()
    {
        var p = new IocpPoller();
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new RecordingClient(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        WindowsTestSupport.RunUntil(p, () => client.ConnectCalled && server.Connections.Count == 1, what: "the connect");
        p.Poll(TimeSpan.Zero);
        Assert.Equal(3, p.InFlight);
        p.Dispose();
        Assert.Equal(0, p.InFlight);
        Assert.Equal(0, p.Leaked);
        Assert.True(client.IsClosed);
    }

    private static class RefusingLsp
    {
        public const int WsaeOpNotSupp = 10045;

        public static uint[] Refused { get; set; } = [];

        public static List<uint> Tried { get; } = new();

        public const nint PollHandle = 0x1D0;
        public const nint BspHandle = 0x1B0;

        // Answers the SIO_BSP_* codes itself: Wine 8 does not implement them, and calling them
        // there was seen to hang. SIO_BASE_HANDLE goes to the real WSAIoctl.
        public static bool TryIoctl(nint socket, uint code, out nint handle, out int error)
        {
            Tried.Add(code);
            if (Array.IndexOf(Refused, code) >= 0)
            {
                handle = 0;
                error = WsaeOpNotSupp;
                return false;
            }

            error = 0;
            switch (code)
            {
                case Interop.Ws2_32.SIO_BSP_HANDLE_POLL:
                    handle = PollHandle;
                    return true;
                case Interop.Ws2_32.SIO_BSP_HANDLE_SELECT:
                case Interop.Ws2_32.SIO_BSP_HANDLE:
                    handle = BspHandle;
                    return true;
                default:
                    return SocketBaseHandle.TryIoctl(socket, code, out handle, out error);
            }
        }
    }
}
