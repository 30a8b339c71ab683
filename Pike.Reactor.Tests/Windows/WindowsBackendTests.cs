using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Windows;

/// <summary>docs/pitfalls.md 14 and 17 on both Windows backends, under Wine or on Windows.</summary>
[Trait("Lane", "windows")]
public class WindowsBackendTests
{
    [Theory]
    [MemberData(nameof(WindowsTestSupport.NativePollers), MemberType = typeof(WindowsTestSupport))]
    public void Refused_connect_reaches_HandleError(string poller)
    {
        // docs/pitfalls.md 14 (AFD_POLL_CONNECT_FAIL must produce an event) and 17 (WSAPoll may stay
        // silent about a failed connect; the backend checks SO_ERROR itself).
        using BasePoller p = PollerFactory.Create(poller);
        var client = new RecordingClient(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(WindowsTestSupport.ClosedPort());
        WindowsTestSupport.RunUntil(p, () => client.Error is not null || client.ConnectCalled, what: "the refused connect");
        Assert.False(client.ConnectCalled);
        SocketException error = Assert.IsType<SocketException>(client.Error);
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.True(client.IsClosed);
        Assert.Equal(0, p.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(WindowsTestSupport.NativePollers), MemberType = typeof(WindowsTestSupport))]
    public void Reset_by_peer_closes_the_channel(string poller)
    {
        // docs/pitfalls.md 14: an abort closes both directions; it must reach the channel as a close.
        using BasePoller p = PollerFactory.Create(poller);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new RecordingClient(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(listener.LocalEndPoint!);
        WindowsTestSupport.RunUntil(p, () => client.ConnectCalled, what: "the connect");
        using (Socket peer = listener.Accept())
        {
            peer.LingerState = new LingerOption(true, 0); // close sends RST
        }

        WindowsTestSupport.RunUntil(p, () => client.CloseCalled || client.Error is not null, what: "the reset");
        Assert.True(client.CloseCalled, $"expected HandleClose, got {client.Error}");
        Assert.Equal(0, p.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(WindowsTestSupport.NativePollers), MemberType = typeof(WindowsTestSupport))]
    public void Connect_then_deferred_write_then_echo(string poller)
    {
        using BasePoller p = PollerFactory.Create(poller);
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new RecordingClient(p) { Greeting = new byte[1000] };
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        WindowsTestSupport.RunUntil(p, () => client.Received == 1000, what: "the echo");
        Assert.True(client.ConnectCalled);
        Assert.Equal(0, client.Writes); // write interest is one-shot: no HandleWrite nobody asked for
        p.DeferWrite(client);
        WindowsTestSupport.RunUntil(p, () => client.Writes == 1, what: "the deferred write");
        for (int i = 0; i < 5; i++)
        {
            p.Poll(TimeSpan.FromMilliseconds(20));
        }

        Assert.Equal(1, client.Writes);
    }

    [Theory]
    [MemberData(nameof(WindowsTestSupport.NativePollers), MemberType = typeof(WindowsTestSupport))]
    public void Stop_from_another_thread_ends_an_unbounded_loop(string poller)
    {
        using BasePoller p = PollerFactory.Create(poller);
        var server = new EchoServer(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        using var stopper = new Timer(_ => p.Stop(), null, 100, Timeout.Infinite);
        var finished = new ManualResetEventSlim();
        var loop = new Thread(() =>
        {
            p.Loop(Timeout.InfiniteTimeSpan);
            finished.Set();
        });
        loop.Start();
        Assert.True(finished.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken), "Loop did not return after Stop");
        loop.Join();
        Assert.True(p.WakeSignals >= 1);
    }
}
