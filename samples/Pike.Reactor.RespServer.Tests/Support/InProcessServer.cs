using System;
using System.IO;
using System.Net;
using System.Threading;
using Pike.Reactor.RespServer.Server;

namespace Pike.Reactor.RespServer.Tests.Support;

/// <summary>The sample server on a free loopback port, its loop on a background thread of this process.</summary>
public sealed class InProcessServer : IDisposable
{
    private readonly Thread _thread;
    private readonly RespServerHost _host;
    private Exception? _failure;

    private readonly TimeSpan _spin;

    /// <summary>Starts the server; <paramref name="spinMicroseconds"/> as the command line's --spin-us (its default unless told).</summary>
    public InProcessServer(
        string poller = "epoll",
        int maxOutputBytes = RespServerHost.DefaultMaxOutputBytes,
        int spinMicroseconds = ServerOptions.DefaultSpinMicroseconds,
        int maxClients = RespServerHost.DefaultMaxClients)
    {
        _spin = TimeSpan.FromMicroseconds(spinMicroseconds);
        _host = new RespServerHost(Pollers.Create(poller), maxOutputBytes, TextWriter.Null, maxClients);
        Port = _host.Listen(new IPEndPoint(IPAddress.Loopback, 0)).Port;
        _thread = new Thread(RunLoop) { IsBackground = true, Name = $"resp-{poller}-{Port}" };
        _thread.Start();
    }

    public int Port { get; }

    public void Dispose()
    {
        _host.Stop();
        if (!_thread.Join(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException("the server loop did not stop within 10 s");
        }

        _host.Dispose();
        if (_failure is not null)
        {
            throw new InvalidOperationException("the server loop failed", _failure);
        }
    }

    private void RunLoop()
    {
        try
        {
            _host.Run(_spin);
        }
        catch (Exception error)
        {
            _failure = error;
        }
    }
}
