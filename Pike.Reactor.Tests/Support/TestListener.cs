using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor.Tests;

/// <summary>A listener on a free loopback port; by default it wraps each accepted socket in a <see cref="TestChannel"/>.</summary>
public sealed class TestListener : Listener
{
    public TestListener(BasePoller poller, Action<TestChannel>? configure = null)
        : this(poller, new IPEndPoint(IPAddress.Loopback, 0), configure)
    {
    }

    /// <summary>A listener on <paramref name="endpoint"/> (a Unix domain socket's, say); <paramref name="beforeListen"/> sets options first.</summary>
    public TestListener(BasePoller poller, EndPoint endpoint, Action<TestChannel>? configure = null, Action<TestListener>? beforeListen = null)
        : base(poller)
    {
        Configure = configure;
        beforeListen?.Invoke(this);
        Listen(endpoint);
    }

    public Action<TestChannel>? Configure { get; set; }

    public Action<Socket>? OnAccept { get; set; }

    public List<TestChannel> Accepted { get; } = new();

    public IPEndPoint EndPoint => (IPEndPoint)LocalEndPoint!;

    protected override void HandleAccept(Socket accepted)
    {
        if (OnAccept is not null)
        {
            OnAccept(accepted);
            return;
        }

        var channel = new TestChannel(Poller);
        Configure?.Invoke(channel);
        channel.SetSocket(accepted);
        Accepted.Add(channel);
    }
}
