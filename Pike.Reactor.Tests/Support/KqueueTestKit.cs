using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Pike.Reactor.BSD;
using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>What the kqueue tests share: a poller on this host's kqueue (the shim on Linux), socket pairs, and waiting with a deadline.</summary>
internal static class KqueueTestKit
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>A KqueuePoller: on Linux over the test shim, elsewhere over the C library.</summary>
    public static KqueuePoller NewPoller(int capacity = KqueuePoller.DefaultEventCapacity) =>
        OperatingSystem.IsLinux() ? new KqueuePoller(KqueueShim.Path, capacity) : new KqueuePoller(null, capacity);

    /// <summary>Two connected loopback TCP sockets (blocking).</summary>
    public static (Socket Near, Socket Far) ConnectedPair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var near = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        near.Connect(listener.LocalEndPoint!);
        return (near, listener.Accept());
    }

    /// <summary>A loopback endpoint nothing listens on (a port just bound and released).</summary>
    public static IPEndPoint ClosedEndPoint()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing after <see cref="Deadline"/>.</summary>
    public static void PollUntil(BasePoller poller, Func<bool> condition, string what)
    {
        long start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            Assert.True(Stopwatch.GetElapsedTime(start) < Deadline, $"timed out waiting for {what}");
            poller.Poll(TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Waits (without polling) until <paramref name="condition"/> holds, failing after <see cref="Deadline"/>.</summary>
    public static void WaitUntil(Func<bool> condition, string what)
    {
        long start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            Assert.True(Stopwatch.GetElapsedTime(start) < Deadline, $"timed out waiting for {what}");
            System.Threading.Thread.Sleep(5);
        }
    }
}
