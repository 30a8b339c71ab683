using System;
using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

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

    /// <summary>Bytes <see cref="Write(ReadOnlySpan{byte})"/> queued that the socket has not taken yet.</summary>
    public long QueuedBytes => _output?.Bytes ?? 0;

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

        if (_output is null || _output.IsEmpty)
        {
            int sent = SendNow(socket, data);
            NoteActivity();
            if (sent == data.Length)
            {
                return;
            }

            data = data[sent..];
        }

        (_output ??= new OutputQueue()).Append(data);
        RequestWrite();
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
            if ((_output is null || _output.IsEmpty) && length > 0)
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

            RequestWrite();
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
        if (_output is null || _output.IsEmpty)
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

            if (!output.IsEmpty)
            {
                RequestWrite();
                return;
            }

            if (_shutdownAfterFlush)
            {
                _shutdownAfterFlush = false;
                ShutdownSocketSend(Socket!);
            }

            HandleDrained();
            if (IsClosed)
            {
                return;
            }

            if (_lingerInputEnded)
            {
                Close(); // a lingering close whose peer had already ended its side: flushed, done
                return;
            }
        }

        HandleWrite();
    }

    private void ReleaseOutput()
    {
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
