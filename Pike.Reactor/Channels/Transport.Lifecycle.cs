using System;
using System.Diagnostics;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>How a transport ends: close reasons, the Closed hook, the lingering close, idle timeouts.</summary>
public abstract partial class Transport
{
    private CloseReason? _reasonHint;   // why the handler being run would close the transport
    private IDisposable? _lingerTimer;
    private bool _lingering;
    private bool _lingerInputEnded;   // lingering, and the peer's end of stream came before the queue was flushed
    private TimeSpan? _idleTimeout;
    private long _lastActivity;

    /// <summary>Raised once when the transport closes, whoever closed it, after the socket is closed; with the reason. Runs on the loop thread.</summary>
    public event Action<Transport, CloseReason>? Closed;

    /// <summary>Why the transport closed; null while it is open.</summary>
    public CloseReason? CloseReason { get; private set; }

    /// <summary>
    /// When set, the transport is idle once nothing was read or written for this long, and
    /// <see cref="HandleIdle"/> runs (by default it closes with <see cref="Pike.Reactor.CloseReason.Idle"/>).
    /// One sweep timer per poller checks every idle-watched channel; no timer per connection.
    /// Null (the default): never idle.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive.</exception>
    public TimeSpan? IdleTimeout
    {
        get => _idleTimeout;
        set
        {
            if (value is { } timeout && timeout <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(value), timeout, "An idle timeout must be positive (null: never idle).");
            }

            Poller.ThrowIfForeignThread();
            _idleTimeout = value;
            _lastActivity = Stopwatch.GetTimestamp();
            if (value is not null && !IdleWatched && !IsClosed)
            {
                IdleWatched = true;
                Poller.WatchIdle(this);
            }
        }
    }

    /// <summary>True while the poller's idle sweep holds this transport.</summary>
    internal bool IdleWatched { get; set; }

    /// <summary>True while <see cref="CloseAfterFlush"/> waits for the queue to flush and the peer to close.</summary>
    public bool IsClosing => _lingering && !IsClosed;

    /// <summary>
    /// Closes gracefully: no more writes; what is queued is flushed, the send side is shut down so
    /// that the peer reads the end of the stream after the last byte, input is read and dropped
    /// (so that the peer's late data does not make the kernel answer with a reset that could
    /// destroy the last reply in flight), and the transport closes when the peer closes its end,
    /// or after <paramref name="timeout"/> at the latest. <see cref="HandleRead"/> is not called
    /// any more. Idempotent; a <see cref="Close"/> meanwhile closes at once. A datagram socket,
    /// which has nothing queued and no stream to end, closes at once.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">No socket, or the loop runs on another thread.</exception>
    public void CloseAfterFlush(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        if (IsClosed || _lingering)
        {
            return;
        }

        if (ActiveSocket().SocketType == SocketType.Dgram)
        {
            Close(); // a datagram socket has no queue to flush and no stream to end
            return;
        }

        _lingering = true;
        ResumeReadingIfPaused();
        _lingerTimer = Poller.CallLater(timeout, LingerExpired);
        ShutdownSend();
    }

    /// <summary>The peer closed or reset the connection, or the socket was disposed, for <paramref name="reason"/>. By default, <see cref="HandleClose()"/>.</summary>
    protected internal virtual void HandleClose(CloseReason reason) => HandleClose();

    /// <summary>Nothing was read or written for <see cref="IdleTimeout"/>. By default, closes with <see cref="Pike.Reactor.CloseReason.Idle"/>.</summary>
    protected internal virtual void HandleIdle()
    {
        _reasonHint = Pike.Reactor.CloseReason.Idle;
        try
        {
            Close();
        }
        finally
        {
            _reasonHint = null;
        }
    }

    /// <summary>Set as the poller dispatches a read; a datagram transport clears it as it receives (Windows: an empty readiness of a connected socket is an error, see DatagramTransport).</summary>
    private protected bool ReadDispatched { get; set; }

    /// <summary>Called by the poller instead of <see cref="HandleRead"/>: a lingering transport drains and drops input, and closes at the end of the stream.</summary>
    internal void DispatchRead()
    {
        NoteActivity();
        ReadDispatched = true;
        if (!_lingering)
        {
            HandleRead();
            return;
        }

        // Bounded per readiness, as accepting is: a peer that keeps sending must not hold the
        // loop; the rest is reported again (level-triggered).
        Span<byte> sink = stackalloc byte[4096];
        try
        {
            for (int i = 0; i < 16 && Recv(sink) > 0; i++)
            {
            }
        }
        catch (Exception error) when (BasePoller.IsCloseError(error))
        {
            if (error is System.IO.EndOfStreamException && HasUnsentOutput)
            {
                // The peer only half-closed and may still be reading: flush first (DispatchWrite closes).
                _lingerInputEnded = true;
                PauseReading();
                return;
            }

            // The peer closed after our last byte: done (Local: the close asked for finished).
            // A reset may have cost the peer what it had not read yet: say so.
            CloseWithReason(error is System.IO.EndOfStreamException ? Pike.Reactor.CloseReason.Local : Pike.Reactor.CloseReason.Reset);
        }
    }

    /// <summary>Sends a handler's exception where the contract says, with the close reason it implies for a close that follows.</summary>
    internal void RouteError(Exception error)
    {
        bool closing = BasePoller.IsCloseError(error);
        _reasonHint = closing ? ReasonFor(error) : Pike.Reactor.CloseReason.Error;
        try
        {
            if (closing)
            {
                HandleClose(_reasonHint.Value);
            }
            else
            {
                HandleError(error);
            }
        }
        finally
        {
            _reasonHint = null;
        }
    }

    /// <summary>For the poller's sweep: true when the transport is watched for idleness and has been idle long enough.</summary>
    internal bool IsIdleAt(long now, out bool watched)
    {
        watched = _idleTimeout.HasValue && !IsClosed;
        return watched && Stopwatch.GetElapsedTime(_lastActivity, now) >= _idleTimeout!.Value;
    }

    internal void NoteActivity()
    {
        if (_idleTimeout.HasValue)
        {
            _lastActivity = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>The reason a close error implies: the end of stream, or else a reset (a reset, abort, shutdown or disposed socket).</summary>
    private static CloseReason ReasonFor(Exception error) =>
        error is System.IO.EndOfStreamException ? Pike.Reactor.CloseReason.EndOfStream : Pike.Reactor.CloseReason.Reset;

    private void LingerExpired()
    {
        if (!IsClosed)
        {
            CloseWithReason(Pike.Reactor.CloseReason.FlushTimeout);
        }
    }

    private void CloseWithReason(CloseReason reason)
    {
        _reasonHint = reason;
        try
        {
            Close();
        }
        finally
        {
            _reasonHint = null;
        }
    }

    private void ResumeReadingIfPaused()
    {
        if (_readingPaused)
        {
            ResumeReading();
        }
    }

    /// <summary>Releases what a subclass of this assembly holds for an open transport (a listener's retry timer); called once by Close.</summary>
    private protected virtual void ReleaseOnClose()
    {
    }

    /// <summary>The end of Close: the reason, the timers and the queue released, then the hook.</summary>
    private void FinishClose()
    {
        CloseReason reason = _reasonHint ?? Pike.Reactor.CloseReason.Local;
        CloseReason = reason;
        _lingerTimer?.Dispose();
        _lingerTimer = null;
        CancelConnectAttempt();
        ReleaseOutput();
        ReleaseOnClose();
        Closed?.Invoke(this, reason);
    }
}
