using System;
using System.Buffers.Text;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.RespServer.Protocol;

/// <summary>
/// A connection's pending output: replies are appended here while a read batch is processed
/// and sent in one write afterwards (Redis's write-before-sleep), or later when the socket
/// would block. Bytes between <see cref="Pending"/>'s start and end are not yet sent.
/// </summary>
/// <remarks>
/// Given a shared buffer (one per loop thread), the replies of a batch are written there and
/// only what the socket did not take is kept in memory of the client's own (see
/// <see cref="Lend"/> and <see cref="Return"/>): an idle client holds no output memory.
/// </remarks>
internal sealed class ReplyBuffer(byte[]? shared = null)
{
    /// <summary>What a connection's buffer starts with, and shrinks back to after a large reply drained.</summary>
    public const int InitialCapacity = 16 * 1024;

    private const int ShrinkAbove = 1024 * 1024;

    private byte[] _buffer = shared is null ? new byte[InitialCapacity] : [];
    private byte[] _own = []; // with a shared buffer: this client's buffer for unsent output, kept for reuse
    private int _head;
    private int _tail;

    /// <summary>
    /// The most unsent output this buffer holds: a reply that would take it past the limit is
    /// not appended (nor the buffer grown for it); <see cref="Overflowed"/> says so.
    /// </summary>
    public int Limit { get; set; } = int.MaxValue;

    /// <summary>A reply was refused for <see cref="Limit"/>: the client is to be dropped.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Bytes appended and not yet sent.</summary>
    public int PendingCount => _tail - _head;

    /// <summary>The bytes to send next.</summary>
    public ReadOnlySpan<byte> Pending => _buffer.AsSpan(_head, _tail - _head);

    /// <summary>The bytes to send next, for asynchronous sends.</summary>
    public ReadOnlyMemory<byte> PendingMemory => _buffer.AsMemory(_head, _tail - _head);

    /// <summary>How much memory the buffer holds now (for the tests of the output limit).</summary>
    public int Capacity => _buffer.Length;

    /// <summary><paramref name="count"/> bytes of <see cref="Pending"/> went out.</summary>
    public void Consume(int count)
    {
        _head += count;
        if (_head == _tail)
        {
            _head = 0;
            _tail = 0;
            if (shared is not null && !ReferenceEquals(_buffer, shared))
            {
                // Drained: the next batch writes into the shared buffer again.
                if (_buffer.Length > ShrinkAbove)
                {
                    LargeMemory.Released(_buffer.Length);
                }

                _own = _buffer.Length > ShrinkAbove ? [] : _buffer;
                _buffer = [];
            }
            else if (shared is null && _buffer.Length > ShrinkAbove)
            {
                _buffer = new byte[InitialCapacity]; // one large reply must not pin its memory for the connection's life
            }
        }
    }

    /// <summary>Appends raw bytes (pre-encoded replies).</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (!Fits(bytes.Length))
        {
            return;
        }

        bytes.CopyTo(Reserve(bytes.Length));
        _tail += bytes.Length;
    }

    /// <summary><c>:value\r\n</c></summary>
    public void WriteInteger(long value) => WritePrefixedNumber((byte)':', value);

    /// <summary><c>*count\r\n</c></summary>
    public void WriteArrayHeader(long count) => WritePrefixedNumber((byte)'*', count);

    /// <summary><c>$len\r\ndata\r\n</c></summary>
    public void WriteBulk(ReadOnlySpan<byte> data)
    {
        if (!Fits(data.Length + 16L))
        {
            return;
        }

        Span<byte> target = Reserve(data.Length + 16);
        target[0] = (byte)'$';
        Utf8Formatter.TryFormat(data.Length, target[1..], out int digits);
        int at = 1 + digits;
        target[at++] = (byte)'\r';
        target[at++] = (byte)'\n';
        data.CopyTo(target[at..]);
        at += data.Length;
        target[at++] = (byte)'\r';
        target[at++] = (byte)'\n';
        _tail += at;
    }

    /// <summary><c>$-1\r\n</c>: the RESP2 null bulk.</summary>
    public void WriteNull() => Write("$-1\r\n"u8);

    /// <summary>Clears everything, sent or not (the connection is going away).</summary>
    public void Clear()
    {
        if (_buffer.Length > ShrinkAbove)
        {
            LargeMemory.Released(_buffer.Length);
        }

        _head = 0;
        _tail = 0;
        Overflowed = false;
        if (shared is not null)
        {
            _buffer = [];
        }
    }

    /// <summary>Before a batch: with nothing pending, write into the shared buffer.</summary>
    public void Lend()
    {
        if (shared is not null && _tail == 0)
        {
            _buffer = shared;
        }
    }

    /// <summary>After the batch's send: what the socket did not take moves to memory of this client's own.</summary>
    public void Return()
    {
        if (shared is null || !ReferenceEquals(_buffer, shared))
        {
            return;
        }

        int pending = _tail - _head;
        if (pending > _own.Length)
        {
            _own = new byte[Math.Max(pending, Math.Min(Math.Max(InitialCapacity, pending * 2L), Limit))];
        }

        _buffer.AsSpan(_head, pending).CopyTo(_own);
        _buffer = pending == 0 ? [] : _own;
        _head = 0;
        _tail = pending;
    }

    private void WritePrefixedNumber(byte prefix, long value)
    {
        if (!Fits(24))
        {
            return;
        }

        Span<byte> target = Reserve(24);
        target[0] = prefix;
        Utf8Formatter.TryFormat(value, target[1..], out int digits);
        target[1 + digits] = (byte)'\r';
        target[2 + digits] = (byte)'\n';
        _tail += digits + 3;
    }

    // Checked before anything is copied or grown: once refused, every later reply is too.
    private bool Fits(long count)
    {
        if (!Overflowed && (long)_tail - _head + count > Limit)
        {
            Overflowed = true;
        }

        return !Overflowed;
    }

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _tail < count)
        {
            Grow(count);
        }

        return _buffer.AsSpan(_tail);
    }

    private void Grow(int count)
    {
        int pending = _tail - _head;
        long needed = (long)pending + count;
        if (_head > 0 && needed <= _buffer.Length)
        {
            // Room enough once the sent part is dropped.
            _buffer.AsSpan(_head, pending).CopyTo(_buffer);
        }
        else
        {
            // Doubling, but never past the limit (checked before this reply); past a megabyte, room
            // for this reply and an eighth more: a large reply does not leave half its buffer empty.
            long doubled = needed > ShrinkAbove ? needed + needed / 8 : Math.Max(InitialCapacity, (long)_buffer.Length * 2);
            long size = Math.Max(needed, Math.Min(doubled, Limit));
            var bigger = new byte[(int)Math.Min(size, Array.MaxLength)];
            _buffer.AsSpan(_head, pending).CopyTo(bigger);
            _buffer = bigger;
        }

        _head = 0;
        _tail = pending;
    }
}
