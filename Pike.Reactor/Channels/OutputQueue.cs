using System;
using System.Buffers;
using System.Collections.Generic;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// What <see cref="Transport.Write(ReadOnlySpan{byte})"/> queued and the socket has not taken
/// yet: segments in order, each a pooled chunk the queue filled by copying or a buffer the
/// caller handed over. A flush sends as many segments as fit in one gathering send
/// (<c>sendmsg</c> with an iovec on POSIX, <c>WSASend</c> with several buffers on Windows, both
/// behind <see cref="Socket.Send(IList{ArraySegment{byte}}, SocketFlags, out SocketError)"/>).
/// Chunks come from <see cref="ArrayPool{T}.Shared"/> and go back to it once sent, so a
/// steady stream of writes allocates nothing.
/// </summary>
internal sealed class OutputQueue
{
    /// <summary>The size of a pooled chunk that copied bytes go into.</summary>
    public const int ChunkSize = 16 * 1024;

    /// <summary>
    /// Segments one gathering send carries at most: .NET's Unix socket layer gathers up to 8
    /// buffers on the stack and allocates arrays for more, so 8 keeps a flush free of
    /// allocation (and with 16 KiB chunks, one call still carries 128 KiB).
    /// </summary>
    private const int MaxGather = 8;

    private readonly List<ArraySegment<byte>> _gather = new(MaxGather);
    private Segment[] _segments = new Segment[8];
    private int _head;   // first queued segment
    private int _count;  // queued segments

    public long Bytes { get; private set; }

    public bool IsEmpty => _count == 0;

    /// <summary>Copies <paramref name="data"/> behind what is queued, into the tail chunk while it has room.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_count > 0)
            {
                ref Segment tail = ref _segments[(_head + _count - 1) % _segments.Length];
                if (tail.Owner is null && tail.Array is { } array)
                {
                    int room = array.Length - (tail.Offset + tail.Length);
                    if (room > 0)
                    {
                        int take = Math.Min(room, data.Length);
                        data[..take].CopyTo(array.AsSpan(tail.Offset + tail.Length));
                        tail.Length += take;
                        Bytes += take;
                        data = data[take..];
                        continue;
                    }
                }
            }

            byte[] chunk = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkSize, Math.Min(data.Length, 1 << 20)));
            int copied = Math.Min(chunk.Length, data.Length);
            data[..copied].CopyTo(chunk);
            Push(new Segment { Array = chunk, Offset = 0, Length = copied });
            Bytes += copied;
            data = data[copied..];
        }
    }

    /// <summary>Queues a buffer the caller hands over; it is disposed once sent (or when the queue is cleared).</summary>
    public void Append(IMemoryOwner<byte> owner, ArraySegment<byte> bytes)
    {
        Push(new Segment { Array = bytes.Array, Offset = bytes.Offset, Length = bytes.Count, Owner = owner });
        Bytes += bytes.Count;
    }

    /// <summary>
    /// Sends what the socket takes now, in gathering sends, until it would block or the queue is
    /// empty. Returns the error that stopped it (<see cref="SocketError.WouldBlock"/> when the
    /// socket is full, <see cref="SocketError.Success"/> when everything went).
    /// </summary>
    public SocketError Flush(Socket socket)
    {
        while (_count > 0)
        {
            int sent;
            SocketError error;
            if (_count == 1)
            {
                ref Segment only = ref _segments[_head];
                sent = socket.Send(only.Array.AsSpan(only.Offset, only.Length), SocketFlags.None, out error);
            }
            else
            {
                _gather.Clear();
                for (int i = 0; i < _count && i < MaxGather; i++)
                {
                    ref Segment segment = ref _segments[(_head + i) % _segments.Length];
                    _gather.Add(new ArraySegment<byte>(segment.Array!, segment.Offset, segment.Length));
                }

                sent = socket.Send(_gather, SocketFlags.None, out error);
            }

            if (error != SocketError.Success)
            {
                return error;
            }

            Consume(sent);
            if (sent == 0)
            {
                return SocketError.WouldBlock;
            }
        }

        return SocketError.Success;
    }

    /// <summary>The first queued segment's bytes (empty when nothing is queued).</summary>
    public ReadOnlySpan<byte> Head => _count == 0 ? default : _segments[_head].Array.AsSpan(_segments[_head].Offset, _segments[_head].Length);

    /// <summary>Whether everything queued is in the first segment.</summary>
    public bool IsSingleSegment => _count == 1;

    /// <summary><paramref name="count"/> bytes from the front went out by other means (a poller's send request holds a copy).</summary>
    public void Skip(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Bytes);
        Consume(count);
    }

    /// <summary>
    /// Puts <paramref name="data"/> in front of what is queued: the bytes of a send request that
    /// the socket did not take, which come before anything written after the request was made.
    /// </summary>
    public void Prepend(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (_count > 0)
        {
            ref Segment first = ref _segments[_head];
            if (first.Owner is null && first.Array is not null && first.Offset >= data.Length)
            {
                // Room before the first segment's bytes: the chunk they were skipped from.
                first.Offset -= data.Length;
                first.Length += data.Length;
                data.CopyTo(first.Array.AsSpan(first.Offset));
                Bytes += data.Length;
                return;
            }
        }

        byte[] chunk = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkSize, data.Length));
        data.CopyTo(chunk);
        if (_count == _segments.Length)
        {
            Push(default);
            _count--; // grown; the slot is taken below
        }

        _head = (_head - 1 + _segments.Length) % _segments.Length;
        _segments[_head] = new Segment { Array = chunk, Offset = 0, Length = data.Length };
        _count++;
        Bytes += data.Length;
    }

    /// <summary>Returns every chunk to the pool and disposes every handed-over buffer.</summary>
    public void Clear()
    {
        while (_count > 0)
        {
            Release(ref _segments[_head]);
            _head = (_head + 1) % _segments.Length;
            _count--;
        }

        _head = 0;
        Bytes = 0;
    }

    private void Consume(int sent)
    {
        Bytes -= sent;
        while (sent > 0)
        {
            ref Segment head = ref _segments[_head];
            if (sent < head.Length)
            {
                head.Offset += sent;
                head.Length -= sent;
                return;
            }

            sent -= head.Length;
            Release(ref head);
            _head = (_head + 1) % _segments.Length;
            _count--;
        }

        if (_count == 0)
        {
            _head = 0;
        }
    }

    private void Push(in Segment segment)
    {
        if (_count == _segments.Length)
        {
            var grown = new Segment[_segments.Length * 2];
            for (int i = 0; i < _count; i++)
            {
                grown[i] = _segments[(_head + i) % _segments.Length];
            }

            _segments = grown;
            _head = 0;
        }

        _segments[(_head + _count) % _segments.Length] = segment;
        _count++;
    }

    private static void Release(ref Segment segment)
    {
        if (segment.Owner is { } owner)
        {
            owner.Dispose();
        }
        else if (segment.Array is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        segment = default;
    }

    private struct Segment
    {
        public byte[]? Array;
        public int Offset;
        public int Length;
        public IMemoryOwner<byte>? Owner;
    }
}
