using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Pike.Reactor.BSD;
using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>
/// What the kqueue tests share: a poller on the kqueue under test, socket pairs, and waiting
/// with a deadline. The kqueue under test is the library <c>PIKE_REACTOR_KQUEUE_LIBRARY</c>
/// names; without it, the test shim on Linux and the C library elsewhere.
/// </summary>
internal static class KqueueTestKit
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>The library the kqueue tests run on; null for this OS's own kqueue.</summary>
    public static string? Library { get; } = ChooseLibrary();

    /// <summary>Whether <see cref="Library"/> is the test shim, whose hooks (<see cref="KqueueShim"/>) then act on the pollers' queues.</summary>
    public static bool UsesShim { get; } =
        Library is not null && string.Equals(System.IO.Path.GetFullPath(Library), System.IO.Path.GetFullPath(KqueueShim.Path), StringComparison.Ordinal);

    /// <summary>A KqueuePoller on <see cref="Library"/>.</summary>
    public static KqueuePoller NewPoller(int capacity = KqueuePoller.DefaultEventCapacity) => new(Library, capacity);

    /// <summary>Skips the calling test unless the kqueue under test is the shim (tests with the trait Needs=kqueue-shim).</summary>
    public static void RequireShim()
    {
        if (!UsesShim)
        {
            Assert.Skip($"needs the test shim's fault injection; the kqueue under test is {Library ?? "the C library"}");
        }
    }

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

    /// <summary><paramref name="count"/> pairs of connected loopback TCP sockets (blocking), through one listener.</summary>
    public static List<(Socket Near, Socket Far)> ConnectedPairs(int count)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(count);
        var pairs = new List<(Socket Near, Socket Far)>(count);
        for (int i = 0; i < count; i++)
        {
            var near = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            near.Connect(listener.LocalEndPoint!);
            pairs.Add((near, listener.Accept()));
        }

        return pairs;
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

    private static string? ChooseLibrary()
    {
        string? named = Environment.GetEnvironmentVariable("PIKE_REACTOR_KQUEUE_LIBRARY");
        if (!string.IsNullOrEmpty(named))
        {
            return named;
        }

        return OperatingSystem.IsLinux() ? KqueueShim.Path : null;
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
