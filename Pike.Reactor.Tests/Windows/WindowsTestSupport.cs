using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Windows;

/// <summary>Pollers and small channels the Windows-lane tests share.</summary>
public static class WindowsTestSupport
{
    /// <summary>
    /// The Windows backends, narrowed by PIKE_TEST_POLLERS when it names one of them. Never
    /// empty: a theory without data fails even where the lane filter excludes it (Linux).
    /// </summary>
    public static TheoryData<string> NativePollers
    {
        get
        {
            string[] all = ["iocp", "wsapoll"];
            IReadOnlyList<string> chosen = Pollers.KernelNames();
            string[] names = all.Any(chosen.Contains) ? all.Where(chosen.Contains).ToArray() : all;
            var data = new TheoryData<string>();
            foreach (string name in names)
            {
                data.Add(name);
            }

            return data;
        }
    }

    /// <summary>Runs the loop until <paramref name="done"/> holds, failing after <paramref name="seconds"/>.</summary>
    public static void RunUntil(BasePoller poller, Func<bool> done, double seconds = 10, string? what = null)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed.TotalSeconds < seconds, $"timed out after {seconds}s waiting for {what ?? "the condition"}");
            poller.Poll(TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>A loopback port nobody listens on (bound, then released).</summary>
    public static IPEndPoint ClosedPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)probe.LocalEndPoint!;
    }
}

/// <summary>A listener that echoes every accepted connection.</summary>
public sealed class EchoServer(BasePoller poller) : Listener(poller)
{
    public List<EchoConnection> Connections { get; } = new();

    protected override void HandleAccept(Socket accepted)
    {
        var connection = new EchoConnection(Poller);
        connection.SetSocket(accepted);
        Connections.Add(connection);
    }
}

/// <summary>Echoes what it reads; closes at end of stream.</summary>
public sealed class EchoConnection(BasePoller poller) : Transport(poller)
{
    private readonly byte[] _buffer = new byte[16384];
    private int _pending;
    private int _offset;

    protected internal override void HandleRead()
    {
        if (_pending > 0)
        {
            return; // back-pressure: finish the last echo first
        }

        int n = Recv(_buffer);
        if (n > 0)
        {
            _pending = n;
            _offset = 0;
            Flush();
        }
    }

    protected internal override void HandleWrite() => Flush();

    private void Flush()
    {
        while (_pending > 0)
        {
            int sent = Send(_buffer.AsSpan(_offset, _pending));
            if (sent == 0)
            {
                return;
            }

            _offset += sent;
            _pending -= sent;
        }
    }
}

/// <summary>A client that records what happens to it.</summary>
public class RecordingClient(BasePoller poller) : Transport(poller)
{
    private readonly byte[] _buffer = new byte[16384];

    public bool ConnectCalled { get; private set; }

    public int Writes { get; private set; }

    public bool CloseCalled { get; private set; }

    public Exception? Error { get; private set; }

    public int Received { get; private set; }

    public byte[]? Greeting { get; init; }

    protected internal override void HandleConnect()
    {
        ConnectCalled = true;
        if (Greeting is not null)
        {
            Send(Greeting);
        }
    }

    protected internal override void HandleRead()
    {
        Received += Recv(_buffer);
    }

    protected internal override void HandleWrite() => Writes++;

    protected internal override void HandleClose()
    {
        CloseCalled = true;
        Close();
    }

    protected internal override void HandleError(Exception error)
    {
        Error = error;
        Close();
    }
}
