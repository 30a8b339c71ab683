using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor.Tests;

/// <summary>A datagram transport whose handlers are set per test, recording what the poller called.</summary>
public sealed class TestDatagram : DatagramTransport
{
    public TestDatagram(BasePoller poller)
        : base(poller)
    {
    }

    public Action<TestDatagram>? OnConnect { get; set; }

    public Action<TestDatagram>? OnRead { get; set; }

    public Action<TestDatagram>? OnWrite { get; set; }

    public List<Exception> Errors { get; } = new();

    /// <summary>The handlers called, in order ("connect", "read", "write", "close", "error").</summary>
    public List<string> Calls { get; } = new();

    /// <summary>Whether <see cref="Calls"/> grows (off for a test that counts allocations).</summary>
    public bool RecordCalls { get; set; } = true;

    public int Reads { get; private set; }

    public int Writes { get; private set; }

    public bool ConnectedCalled { get; private set; }

    public bool CloseCalled { get; private set; }

    /// <summary>A transport bound to an ephemeral port of 127.0.0.1.</summary>
    public static TestDatagram BoundToLoopback(BasePoller poller)
    {
        var channel = new TestDatagram(poller);
        channel.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return channel;
    }

    public IPEndPoint EndPoint => (IPEndPoint)LocalEndPoint!;

    protected internal override void HandleConnect()
    {
        Record("connect");
        ConnectedCalled = true;
        OnConnect?.Invoke(this);
    }

    protected internal override void HandleRead()
    {
        Record("read");
        Reads++;
        if (OnRead is null)
        {
            Span<byte> sink = stackalloc byte[2048];
            while (TryReceive(sink, out _))
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
        Record("write");
        Writes++;
        OnWrite?.Invoke(this);
    }

    protected internal override void HandleClose()
    {
        Record("close");
        CloseCalled = true;
        Close();
    }

    protected internal override void HandleError(Exception error)
    {
        Record("error");
        Errors.Add(error);
    }

    private void Record(string call)
    {
        if (RecordCalls)
        {
            Calls.Add(call);
        }
    }

    /// <summary>A plain blocking UDP socket bound to 127.0.0.1, for the far side of a test.</summary>
    public static Socket PlainPeer()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.ReceiveTimeout = 20_000;
        return socket;
    }
}
