using System;
using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Pike.Reactor.Core;

namespace Pike.Reactor;

/// <summary>The buffered write path: <see cref="Write(ReadOnlySpan{byte})"/>, the queue behind it, watermarks, and the half-close.</summary>
public abstract partial class Transport
{
    /// <summary>The <see cref="HighWatermark"/> of a new transport.</summary>
    public const int DefaultHighWatermark = 64 * 1024;

    /// <summary>The <see cref="LowWatermark"/> of a new transport.</summary>
    public const int DefaultLowWatermark = 16 * 1024;

    private OutputQueue? _output;
    private int _highWatermark = DefaultHighWatermark;
    private int _lowWatermark = DefaultLowWatermark;
    private bool _sendShutDown;      // ShutdownSend was called: no more writes
    private bool _shutdownAfterFlush; // ... and the queue was not empty then
    private int _sendInFlight;       // bytes a send request of the poller holds, its completion not yet dispatched

    /// <summary>Whether a send request of the poller holds bytes of this transport (its completion not dispatched yet).</summary>
    internal bool HasSendRequest => _sendInFlight > 0;

    /// <summary>
    /// Whether something waits for this transport's send request to complete: bytes written behind
    /// it, a half-close or a lingering close that follows them, or <see cref="IsWritable"/> turning true again.
    /// </summary>
    internal bool AwaitsSendCompletion => _sendInFlight > 0 && (_shutdownAfterFlush || !IsWritable || _output is { IsEmpty: false });

    /// <summary>Whether bytes are queued or held by a send request of the poller.</summary>
    internal bool HasUnsentOutput => _sendInFlight > 0 || _output is { IsEmpty: false };

    /// <summary>Bytes <see cref="Write(ReadOnlySpan{byte})"/> queued that the socket has not taken yet.</summary>
    public long QueuedBytes => (_output?.Bytes ?? 0) + _sendInFlight;

    /// <summary>
    /// False once <see cref="QueuedBytes"/> reached <see cref="HighWatermark"/>, true again once it
    /// fell to <see cref="LowWatermark"/>; each change calls <see cref="HandleWritabilityChanged"/>.
    /// A producer that respects it (a proxy pausing the other side's reading) keeps memory bounded.
    /// </summary>
    public bool IsWritable { get; private set; } = true;

    /// <summary>Queued bytes at which <see cref="IsWritable"/> turns false (default 64 KiB).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive, or below <see cref="LowWatermark"/>.</exception>
    public int HighWatermark
    {
        get => _highWatermark;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            ArgumentOutOfRangeException.ThrowIfLessThan(value, _lowWatermark);
            _highWatermark = value;
            UpdateWritability();
        }
    }

    /// <summary>Queued bytes at or below which <see cref="IsWritable"/> turns true again (default 16 KiB).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or above <see cref="HighWatermark"/>.</exception>
    public int LowWatermark
    {
        get => _lowWatermark;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, _highWatermark);
            _lowWatermark = value;
            UpdateWritability();
        }
    }

    /// <summary>
    /// Sends <paramref name="data"/>, all of it: what the socket does not take now is copied into
    /// pooled chunks and sent, in order, when it can take more (one gathering send for many
    /// queued chunks). Never blocks; the caller may reuse <paramref name="data"/> at once.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, a datagram socket, the send side is shut down (<see cref="ShutdownSend"/>, <see cref="CloseAfterFlush"/>), or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The send failed (nothing was queued).</exception>
    public void Write(ReadOnlySpan<byte> data)
    {
        Socket socket = WritableSocket();
        if (data.IsEmpty)
        {
            return;
        }

        if (!HasUnsentOutput)
        {
            if (data.Length <= Poller.SendWithWaitLimit && data.Length < _highWatermark && Poller.QueueSendRequest(this, data))
            {
                // docs/io_uring.md, "Sends with the wait": a send request holds a copy, and the
                // poller's next wait carries it (its completion tells what went).
                _sendInFlight = data.Length;
                UpdateWritability();
                return;
            }

            int sent = SendNow(socket, data);
            NoteActivity();
            if (sent == data.Length)
            {
                return;
            }

            data = data[sent..];
        }

        (_output ??= new OutputQueue()).Append(data);
        if (_sendInFlight == 0)
        {
            RequestWrite(); // else the request's completion sends the rest
        }

        UpdateWritability();
    }

    /// <summary>
    /// Sends the first <paramref name="length"/> bytes of <paramref name="owner"/>'s memory and
    /// takes ownership of it: what the socket does not take now is queued without a copy (when
    /// the memory is array-backed) and <paramref name="owner"/> is disposed once it is sent, or
    /// when the transport closes. Disposed also when this throws.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="owner"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or beyond the memory.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, a datagram socket, the send side is shut down, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The send failed.</exception>
    public void Write(IMemoryOwner<byte> owner, int length)
    {
        ArgumentNullException.ThrowIfNull(owner);
        bool queued = false;
        try
        {
            Memory<byte> memory = owner.Memory;
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, memory.Length);
            Socket socket = WritableSocket();
            int sent = 0;
            if (!HasUnsentOutput && length > 0)
            {
                sent = SendNow(socket, memory.Span[..length]);
                NoteActivity();
            }

            if (sent == length)
            {
                return;
            }

            Memory<byte> rest = memory[sent..length];
            _output ??= new OutputQueue();
            if (MemoryMarshal.TryGetArray<byte>(rest, out ArraySegment<byte> segment))
            {
                _output.Append(owner, segment);
                queued = true;
            }
            else
            {
                _output.Append(rest.Span);
            }

            if (_sendInFlight == 0)
            {
                RequestWrite();
            }

            UpdateWritability();
        }
        finally
        {
            if (!queued)
            {
                owner.Dispose();
            }
        }
    }

    /// <summary>
    /// Half-closes: no more writes; once the queue is flushed, the peer reads the end of the
    /// stream. Reading goes on (the peer may still send). Idempotent.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, a datagram socket (it has no stream to end), or the loop runs on another thread.</exception>
    public void ShutdownSend()
    {
        Socket socket = StreamSocket();
        if (_sendShutDown)
        {
            return;
        }

        _sendShutDown = true;
        if (!HasUnsentOutput)
        {
            ShutdownSocketSend(socket);
        }
        else
        {
            _shutdownAfterFlush = true;
        }
    }

    /// <summary>The queue emptied after <see cref="Write(ReadOnlySpan{byte})"/> had queued bytes (by default nothing).</summary>
    protected internal virtual void HandleDrained()
    {
    }

    /// <summary><see cref="IsWritable"/> changed: the queue reached <see cref="HighWatermark"/>, or fell back to <see cref="LowWatermark"/> (by default nothing).</summary>
    protected internal virtual void HandleWritabilityChanged()
    {
    }

    /// <summary>
    /// Called by the poller instead of <see cref="HandleWrite"/>: flushes the queue first; once it
    /// is empty, a pending half-close or lingering close goes on, then <see cref="HandleDrained"/>
    /// and <see cref="HandleWrite"/> run.
    /// </summary>
    internal void DispatchWrite()
    {
        NoteActivity();
        if (_sendInFlight > 0)
        {
            // A send request of the poller goes first: its completion sends what was queued behind it.
            HandleWrite();
            return;
        }

        if (_output is { IsEmpty: false } output)
        {
            SocketError error = output.Flush(Socket!);
            if (error is not (SocketError.Success or SocketError.WouldBlock))
            {
                throw new SocketException((int)error);
            }

            UpdateWritability();
            if (IsClosed)
            {
                return; // HandleWritabilityChanged closed it
            }

            if (_sendInFlight > 0)
            {
                return; // HandleWritabilityChanged wrote again, into a send request: its completion goes on from here
            }

            if (!output.IsEmpty)
            {
                RequestWrite();
                return;
            }

            if (FinishFlushed())
            {
                return;
            }
        }

        HandleWrite();
    }

    /// <summary>
    /// The poller's send request completed: <paramref name="result"/> bytes went (or it failed
    /// with the negated errno); <paramref name="unsent"/> are the bytes it held that did not go,
    /// which return to the front of the queue.
    /// </summary>
    internal void CompleteSendRequest(int result, ReadOnlySpan<byte> unsent)
    {
        _sendInFlight = 0;
        if (IsClosed)
        {
            return;
        }

        NoteActivity();
        if (result < 0 && Interop.SocketErrors.FromErrno(-result) is var error && error != SocketError.WouldBlock)
        {
            throw new SocketException((int)error); // routed by the poller, as a failed send call of the queue's flush is
        }

        if (!unsent.IsEmpty)
        {
            (_output ??= new OutputQueue()).Prepend(unsent);
        }

        if (_output is { IsEmpty: false } output)
        {
            // Written while the request was out: another request with the next wait, or, when
            // the socket was full or the bytes are more than a request carries, the queue's
            // gathering sends once the socket can take more.
            ReadOnlySpan<byte> head = output.Head;
            if (unsent.IsEmpty && output.IsSingleSegment && head.Length <= Poller.SendWithWaitLimit && Poller.QueueSendRequest(this, head))
            {
                _sendInFlight = head.Length;
                output.Skip(head.Length);
            }
            else
            {
                RequestWrite();
            }

            UpdateWritability();
            return;
        }

        // Everything went, as a send call that took it all: no HandleDrained (the bytes never
        // waited for the socket), but what waited for them goes on.
        UpdateWritability();
        if (IsClosed || HasUnsentOutput)
        {
            return; // HandleWritabilityChanged closed it, or wrote again: that write's completion or flush goes on
        }

        if (_shutdownAfterFlush)
        {
            _shutdownAfterFlush = false;
            ShutdownSocketSend(Socket!);
        }

        if (_lingerInputEnded)
        {
            Close(); // a lingering close whose peer had already ended its side: flushed, done
        }
    }

    /// <summary>
    /// Everything queued went: a pending half-close goes on, <see cref="HandleDrained"/> runs, and
    /// a lingering close whose peer had ended its side finishes. True when the transport closed.
    /// </summary>
    private bool FinishFlushed()
    {
        if (_shutdownAfterFlush)
        {
            _shutdownAfterFlush = false;
            ShutdownSocketSend(Socket!);
        }

        HandleDrained();
        if (IsClosed)
        {
            return true;
        }

        if (_lingerInputEnded)
        {
            Close(); // a lingering close whose peer had already ended its side: flushed, done
            return true;
        }

        return false;
    }

    private void ReleaseOutput()
    {
        _sendInFlight = 0;
        _output?.Clear();
        IsWritable = true;
    }

    private Socket WritableSocket()
    {
        Socket socket = StreamSocket();
        if (_sendShutDown)
        {
            throw new InvalidOperationException("The send side is shut down (ShutdownSend or CloseAfterFlush); nothing more can be written.");
        }

        return socket;
    }

    private static int SendNow(Socket socket, ReadOnlySpan<byte> data)
    {
        int sent = socket.Send(data, SocketFlags.None, out SocketError error);
        return error switch
        {
            SocketError.Success => sent,
            SocketError.WouldBlock => 0,
            _ => throw new SocketException((int)error),
        };
    }

    private static void ShutdownSocketSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.NotConnected)
        {
            // The peer is gone already: the read that follows reports it.
        }
    }

    private void UpdateWritability()
    {
        long queued = QueuedBytes;
        bool writable = IsWritable ? queued < _highWatermark : queued <= _lowWatermark;
        if (writable != IsWritable)
        {
            IsWritable = writable;
            HandleWritabilityChanged();
        }
    }
}
