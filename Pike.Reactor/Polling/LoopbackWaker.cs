using System;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// The wake-up of pollers that can only watch sockets (select, WSAPoll, and pollers written pike's way): a connected loopback
/// TCP pair; the loop watches <see cref="Reader"/>, any thread writes a byte to the other end.
/// </summary>
internal sealed class LoopbackWaker : IDisposable
{
    private readonly Socket _writer;
    private readonly byte[] _drain = new byte[64];

    public LoopbackWaker()
    {
        IPAddress loopback = Socket.OSSupportsIPv4 ? IPAddress.Loopback : IPAddress.IPv6Loopback;
        using var listener = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(loopback, 0));
        listener.Listen(1);
        _writer = new Socket(loopback.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _writer.Connect(listener.LocalEndPoint!);
            Reader = listener.Accept();
            Reader.Blocking = false;
            ReaderHandle = Reader.SafeHandle.DangerousGetHandle();
            _writer.Blocking = false;
            _writer.NoDelay = true;
        }
        catch
        {
            _writer.Dispose();
            throw;
        }
    }

    /// <summary>The end the loop watches for reading.</summary>
    public Socket Reader { get; }

    /// <summary>The handle of <see cref="Reader"/>, as a poller reports it.</summary>
    public nint ReaderHandle { get; }

    /// <summary>Makes <see cref="Reader"/> readable. Any thread.</summary>
    public void Signal() => _writer.Send(stackalloc byte[1] { 1 }, SocketFlags.None, out _);

    /// <summary>Empties <see cref="Reader"/> so that it stops being readable.</summary>
    public void Drain()
    {
        while (Reader.Receive(_drain, SocketFlags.None, out SocketError error) > 0 && error == SocketError.Success)
        {
        }
    }

    public void Dispose()
    {
        Reader.Dispose();
        _writer.Dispose();
    }
}
