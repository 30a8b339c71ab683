using System;
using System.Buffers.Text;

namespace Pike.Reactor.RespServer.Protocol;

/// <summary>
/// A connection's pending output: replies are appended here while a read batch is processed
/// and sent in one write afterwards (Redis's write-before-sleep), or later when the socket
/// would block. Bytes between <see cref="Pending"/>'s start and end are not yet sent.
/// </summary>
internal sealed class ReplyBuffer
{
    /// <summary>What a connection's buffer starts with, and shrinks back to after a large reply drained.</summary>
    public const int InitialCapacity = 16 * 1024;

    private const int ShrinkAbove = 1024 * 1024;

    private byte[] _buffer = new byte[InitialCapacity];
    private int _head;
    private int _tail;

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
            if (_buffer.Length > ShrinkAbove)
            {
                _buffer = new byte[InitialCapacity]; // one large reply must not pin its memory for the connection's life
            }
        }
    }

    /// <summary>Appends raw bytes (pre-encoded replies).</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
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
        _head = 0;
        _tail = 0;
    }

    private void WritePrefixedNumber(byte prefix, long value)
    {
        Span<byte> target = Reserve(24);
        target[0] = prefix;
        Utf8Formatter.TryFormat(value, target[1..], out int digits);
        target[1 + digits] = (byte)'\r';
        target[2 + digits] = (byte)'\n';
        _tail += digits + 3;
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
            long size = Math.Max(needed, (long)_buffer.Length * 2);
            var bigger = new byte[(int)Math.Min(size, Array.MaxLength)];
            _buffer.AsSpan(_head, pending).CopyTo(bigger);
            _buffer = bigger;
        }

        _head = 0;
        _tail = pending;
    }
}
