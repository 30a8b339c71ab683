using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using Pike.Reactor;

namespace Pike.Reactor.Samples.Proxy;

/// <summary>
/// One end of a proxied connection (the client's or the upstream's). What it reads it writes to
/// its peer; when the peer's queue reaches its high watermark this side stops reading until the
/// queue falls back to the low watermark (back-pressure, so memory stays bounded whatever the
/// speeds). The end of its input half-closes the peer once the peer's queue is flushed; when
/// both inputs have ended and both queues are flushed, the pair closes. A reset, an error or
/// an idle pair closes both ends.
/// </summary>
internal sealed class ProxySide : Transport
{
    private readonly byte[] _buffer;
    private readonly TextWriter _log;
    private ProxySide _peer = null!;
    private bool _inputEnded;

    private ProxySide(BasePoller poller, string role, byte[] buffer, TextWriter log)
        : base(poller)
    {
        Role = role;
        _buffer = buffer;
        _log = log;
    }

    /// <summary>"client" or "upstream", for the log.</summary>
    public string Role { get; }

    /// <summary>
    /// Takes over an accepted client socket and starts connecting to <paramref name="upstream"/>.
    /// The client is not read until the upstream is connected. Returns the client's side; its
    /// <see cref="Transport.Closed"/> event says when the pair is gone.
    /// </summary>
    public static ProxySide Open(BasePoller poller, Socket accepted, EndPoint upstream, TimeSpan connectTimeout, TimeSpan? idleTimeout, byte[] buffer, TextWriter log)
    {
        var client = new ProxySide(poller, "client", buffer, log);
        var server = new ProxySide(poller, "upstream", buffer, log);
        client._peer = server;
        server._peer = client;
        client.Closed += static (side, _) => ((ProxySide)side)._peer.Close();
        server.Closed += static (side, _) => ((ProxySide)side)._peer.Close();

        client.SetSocket(accepted);
        client.PauseReading();
        try
        {
            AddressFamily family = upstream is DnsEndPoint ? AddressFamily.InterNetwork : upstream.AddressFamily;
            server.CreateSocket(family, SocketType.Stream);
            server.Socket!.NoDelay = true;
            client.Socket!.NoDelay = true;
            server.Connect(upstream, connectTimeout);
        }
        catch (SocketException error)
        {
            log.WriteLine($"upstream: cannot connect to {upstream}: {error.Message}");
            client.Close();
            return client;
        }

        client.IdleTimeout = idleTimeout;
        server.IdleTimeout = idleTimeout;
        return client;
    }

    protected override void HandleConnect() => _peer.ResumeReading();

    protected override void HandleRead()
    {
        int read = Recv(_buffer);
        if (read > 0)
        {
            // What the peer's socket does not take now is queued; past its high watermark its
            // HandleWritabilityChanged pauses this side.
            _peer.Write(_buffer.AsSpan(0, read));
        }
    }

    protected override void HandleWritabilityChanged()
    {
        if (_peer.IsClosed || _peer._inputEnded)
        {
            return;
        }

        if (IsWritable)
        {
            _peer.ResumeReading();
        }
        else
        {
            _peer.PauseReading();
        }
    }

    protected override void HandleDrained() => CloseIfBothDone();

    protected override void HandleClose(CloseReason reason)
    {
        if (reason != Pike.Reactor.CloseReason.EndOfStream || _inputEnded)
        {
            Close(); // a reset: the Closed handler closes the peer too
            return;
        }

        // Half-close: this side sends no more. Pass the end on once the peer's queue is flushed;
        // the other direction goes on.
        _inputEnded = true;
        PauseReading();
        _peer.ShutdownSend();
        CloseIfBothDone();
    }

    protected override void HandleIdle()
    {
        // An end that only waits while its peer flushes (paused by back-pressure) is not idle.
        if (_peer.QueuedBytes == 0 && QueuedBytes == 0)
        {
            base.HandleIdle();
        }
    }

    protected override void HandleError(Exception error)
    {
        _log.WriteLine(error is SocketException { SocketErrorCode: SocketError.TimedOut } && !Connected
            ? $"{Role}: connect timed out"
            : $"{Role}: {error.Message}");
        Close();
    }

    private void CloseIfBothDone()
    {
        if (_inputEnded && _peer._inputEnded && QueuedBytes == 0 && _peer.QueuedBytes == 0)
        {
            Close();
        }
    }
}
