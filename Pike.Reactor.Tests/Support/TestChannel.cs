using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor.Tests;

/// <summary>A transport whose handlers are set per test, recording what the poller called.</summary>
public sealed class TestChannel : Transport
{
    public TestChannel(BasePoller poller)
        : base(poller)
    {
    }

    public Action<TestChannel>? OnConnect { get; set; }

    public Action<TestChannel>? OnRead { get; set; }

    public Action<TestChannel>? OnWrite { get; set; }

    public Action<TestChannel>? OnClose { get; set; }

    public Action<TestChannel, Exception>? OnError { get; set; }

    public Action<TestChannel>? OnDrained { get; set; }

    public Action<TestChannel>? OnWritabilityChanged { get; set; }

    public Action<CloseReason>? OnCloseReason { get; set; }

    public List<string> Calls { get; } = new();

    public List<Exception> Errors { get; } = new();

    public int Reads { get; private set; }

    public int Writes { get; private set; }

    public bool ConnectedCalled { get; private set; }

    public bool CloseCalled { get; private set; }

    /// <summary>The server side of a loopback pair as a registered channel, and its blocking peer.</summary>
    public static (Socket Peer, TestChannel Channel) OverPair(BasePoller poller)
    {
        (Socket peer, Socket server) = Loopback.Pair();
        var channel = new TestChannel(poller);
        channel.SetSocket(server);
        return (peer, channel);
    }

    /// <summary>
    /// Sends 10 bytes from each peer and waits until every channel's socket holds them, so that
    /// the next wait reports all of them in one batch.
    /// </summary>
    public static void MakeReadable(params (Socket Peer, TestChannel Channel)[] pairs)
    {
        foreach ((Socket peer, _) in pairs)
        {
            peer.Send(new byte[10]);
        }

        Wait.For(() => Array.TrueForAll(pairs, p => HasInput(p.Channel)), "data at every channel");
    }

    /// <summary>
    /// Whether bytes wait for <paramref name="channel"/>: in its socket, or, on a poller that
    /// receives through the ring, brought by a receive request (held, or in a completion).
    /// </summary>
    public static bool HasInput(Transport channel) =>
        channel.Socket!.Available > 0 || (OperatingSystem.IsLinux() && ReceivedThroughRing(channel));

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)] // the Linux type is loaded on Linux only
    private static bool ReceivedThroughRing(Transport channel) =>
        channel.Poller is Pike.Reactor.Linux.IoUringPoller { ReceivesThroughRing: true } ring && channel.IsRegistered && ring.HasReceived(channel.RegistrationKey);

    /// <summary>A client transport connecting to <paramref name="endpoint"/>.</summary>
    public static TestChannel ConnectTo(BasePoller poller, EndPoint endpoint)
    {
        var channel = new TestChannel(poller);
        channel.CreateSocket(endpoint.AddressFamily, SocketType.Stream);
        channel.Connect(endpoint);
        return channel;
    }

    protected internal override void HandleConnect()
    {
        Calls.Add("connect");
        ConnectedCalled = true;
        OnConnect?.Invoke(this);
    }

    protected internal override void HandleRead()
    {
        Calls.Add("read");
        Reads++;
        if (OnRead is null)
        {
            Span<byte> sink = stackalloc byte[4096];
            while (Recv(sink) > 0)
            {
            }
        }
        else
        {
            OnRead(this);
        }
    }

    protected internal override void HandleWrite()
    {
        Calls.Add("write");
        Writes++;
        OnWrite?.Invoke(this);
    }

    protected internal override void HandleDrained() => OnDrained?.Invoke(this);

    protected internal override void HandleWritabilityChanged() => OnWritabilityChanged?.Invoke(this);

    protected internal override void HandleClose(CloseReason reason)
    {
        OnCloseReason?.Invoke(reason);
        base.HandleClose(reason);
    }

    protected internal override void HandleClose()
    {
        Calls.Add("close");
        CloseCalled = true;
        if (OnClose is null)
        {
            Close();
        }
        else
        {
            OnClose(this);
        }
    }

    protected internal override void HandleError(Exception error)
    {
        Calls.Add("error");
        Errors.Add(error);
        if (OnError is null)
        {
            Close();
        }
        else
        {
            OnError(this, error);
        }
    }
}
