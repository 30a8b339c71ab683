using System;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Protocol;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// A client's input side, independent of how bytes arrive (the reactor's connection and the
/// async baseline share it): the input buffer, the parser's place in it, and the loop that
/// runs every complete request against the processor and appends the replies.
/// </summary>
/// <remarks>
/// Given a shared buffer (one per loop thread), a client between requests owns no input
/// memory: each read lands in the shared buffer, and only the tail of a request that has not
/// fully arrived is copied into a buffer of the client's own. With thousands of mostly idle
/// clients this is the difference between kilobytes and hundreds of megabytes that the GC
/// would otherwise keep copying.
/// </remarks>
internal sealed class ClientInput(byte[]? shared = null, LargeArgumentBudget? budget = null)
{
    /// <summary>Redis's client-query-buffer-limit default: a request may not outgrow it.</summary>
    public const long MaxQueryBytes = 1024L * 1024 * 1024;

    /// <summary>
    /// The most requests one client runs in one turn of the loop: a pipeline does not hold the
    /// loop while the other clients wait (Redis bounds a turn by what one 16 KiB read holds).
    /// </summary>
    public const int MaxRequestsPerTurn = 1024;

    /// <summary>The most reply bytes one client's turn produces before it yields to the others.</summary>
    public const int MaxReplyBytesPerTurn = 1024 * 1024;

    private const int InitialSize = 16 * 1024;
    private const int MinReadRoom = 4 * 1024;
    private const int ShrinkAbove = 1024 * 1024;

    /// <summary>
    /// A bulk argument at least this long that has not fully arrived is received straight into
    /// an array of its own, exactly its length, which SET and MSET keep as the value
    /// (Redis's PROTO_MBULK_BIG_ARG is 32 KiB; below a megabyte a copy costs little).
    /// </summary>
    public const int LargeArgument = LargeMemory.Threshold;

    // Below LargeArgument a request's buffer doubles; this is where the doubling stops at the request's end.
    private const int LargeBulk = 1024 * 1024;

    private readonly RequestParser _parser = new();
    private byte[] _buffer = shared is null ? new byte[InitialSize] : [];
    private byte[] _own = [];   // with a shared buffer: this client's buffer for partial requests, kept for reuse
    private int _end;
    private readonly LargeArgumentBudget _budget = budget ?? LargeArgumentBudget.Shared;
    private byte[]? _large;     // the request's large argument, being received (see LargeArgument)
    private int _largeFilled;
    private int _largeLength;   // its declared length: _large's length once it is whole
    private bool _largeReserved;

    // Past the budget, a large argument's array starts here and doubles toward its length.
    private const int LargeGrowthStart = 4 * 1024 * 1024;

    /// <summary>Whether bytes are buffered beyond the requests already run (after a <see cref="BatchResult.Yield"/>: the rest of the pipeline).</summary>
    public bool HasInput => _end > 0;

    /// <summary>After <see cref="BatchResult.Drop"/>: why.</summary>
    public string? DropReason { get; private set; }

    /// <summary>
    /// Where the next read goes: at least a few KiB, growing (doubling) only as a request's
    /// bytes actually arrive, never on the strength of a header's declared length.
    /// Empty when the request in progress would pass <see cref="MaxQueryBytes"/>.
    /// </summary>
    public Memory<byte> ReadSpace()
    {
        if (ReceivingLarge)
        {
            if (_largeFilled == _large!.Length)
            {
                // Beyond the budget: room for twice what came, up to the declared length.
                byte[] bigger = LargeMemory.Allocate((int)Math.Min(_largeLength, _large.Length * 2L));
                _large.AsSpan(0, _largeFilled).CopyTo(bigger);
                LargeMemory.Released(_large.Length);
                _large = bigger;
            }

            return _large.AsMemory(_largeFilled);
        }

        if (_end == 0 && shared is not null)
        {
            _buffer = shared;
        }

        if (_buffer.Length - _end < MinReadRoom)
        {
            long size = _buffer.Length * 2L;
            bool big = _parser.RequiredLength >= LargeBulk;
            if (big)
            {
                // A large argument on its way: doubling, but never past the request's own end
                // (a 300 MB value ends in a 300 MB buffer, not 512 MB). Not straight to the declared
                // length: the runtime clears a large array however it is asked for, so a header
                // that lies about 500 MB would cost 500 MB at once.
                size = Math.Max(Math.Min(size, _parser.RequiredLength), _end + MinReadRoom);
            }

            if (size + _largeLength > MaxQueryBytes + RequestParser.MaxLineLength)
            {
                return Memory<byte>.Empty;
            }

            byte[] bigger = big ? LargeMemory.Allocate((int)size) : new byte[size];
            _buffer.AsSpan(0, _end).CopyTo(bigger);
            _buffer = bigger;
            if (shared is not null)
            {
                _own = bigger;
            }
        }

        return _buffer.AsMemory(_end);
    }

    /// <summary>The memory the input buffer holds now (for the tests of its growth).</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The large argument being received or just received, or null (for the tests of where it lands).</summary>
    public byte[]? LargeArgumentArray => _large;

    /// <summary><paramref name="count"/> bytes were read into <see cref="ReadSpace"/>.</summary>
    public void Advance(int count)
    {
        if (ReceivingLarge)
        {
            _largeFilled += count;
        }
        else
        {
            _end += count;
        }
    }

    private bool ReceivingLarge => _large is not null && _largeFilled < _largeLength;

    /// <summary>
    /// Runs the complete requests now buffered, up to a turn's worth (<paramref name="maxRequests"/>
    /// requests or <paramref name="maxReplyBytes"/> of replies: then <see cref="BatchResult.Yield"/>);
    /// replies go to <paramref name="reply"/>, which refuses any that would take its unsent
    /// output past <paramref name="maxOutputBytes"/> (then <see cref="BatchResult.Drop"/>).
    /// </summary>
    public BatchResult ProcessAvailable(
        CommandProcessor processor,
        ReplyBuffer reply,
        ClientSession session,
        int maxOutputBytes,
        int maxRequests = MaxRequestsPerTurn,
        int maxReplyBytes = MaxReplyBytesPerTurn)
    {
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(reply);
        reply.Limit = maxOutputBytes;
        if (ReceivingLarge)
        {
            return BatchResult.Continue; // nothing to parse until the large argument is whole
        }

        int requests = 0;
        long replyStart = reply.PendingCount;
        while (true)
        {
            if ((requests == maxRequests || reply.PendingCount - replyStart >= maxReplyBytes) && _parser.Position < _end)
            {
                // The turn is used up; what is left waits for the next one.
                Compact(_parser.Position);
                return BatchResult.Yield;
            }

            ParseStatus status = _parser.Parse(_buffer.AsSpan(0, _end));
            if (status == ParseStatus.Complete)
            {
                requests++;
                CommandOutcome outcome = processor.Execute(new RequestInput(_buffer.AsSpan(0, _end), _large), _parser.Arguments, reply, session);
                if (_large is not null)
                {
                    ForgetLarge(kept: processor.TookLargeArgument);
                }

                if (reply.Overflowed)
                {
                    processor.Stats.ClientsDroppedForOutput++;
                    DropReason = $"a reply would take the unsent output past {maxOutputBytes} bytes ({reply.PendingCount} unsent)";
                    Release();
                    return BatchResult.Drop;
                }

                if (outcome == CommandOutcome.CloseAfterReply)
                {
                    Release();
                    return BatchResult.CloseAfterReply;
                }

                continue;
            }

            if (status == ParseStatus.Error)
            {
                processor.Stats.ProtocolErrors++;
                reply.Write(_parser.Error!);
                Release();
                return BatchResult.CloseAfterReply;
            }

            if (_large is null && _parser.PendingBulkLength >= LargeArgument)
            {
                TakeLargeArgument();
            }

            break;
        }

        Compact(_parser.RequestStart);
        return BatchResult.Continue;
    }

    // The bulk argument whose data starts at the parser's position has not fully arrived and is
    // large: from here on its bytes are received into an array of exactly its length, the one
    // SET keeps, so the input buffer does not grow for it and the value is not copied again.
    // Allocated uninitialized and pinned (LargeMemory.Allocate says why): the pages cost memory
    // only as the bytes that do arrive touch them, so a header that lies about its length costs
    // what was sent, as redis-server's query buffer, which it allocates to the declared length
    // for a big argument.
    // Announced lengths are bounded server-wide (LargeArgumentBudget); past that, the array
    // starts small and doubles toward the length.
    private void TakeLargeArgument()
    {
        int start = _parser.Position;
        int length = _parser.PendingBulkLength;
        int arrived = _end - start;
        int taken = Math.Min(arrived, length);
        _largeReserved = _budget.TryReserve(length);
        _largeLength = length;
        _large = LargeMemory.Allocate(_largeReserved ? length : Math.Min(length, Math.Max(LargeGrowthStart, taken * 2)));
        _buffer.AsSpan(start, taken).CopyTo(_large);
        _largeFilled = taken;

        // At most the first byte of the CRLF after the data is left: it stays where the data was.
        _buffer.AsSpan(start + taken, arrived - taken).CopyTo(_buffer.AsSpan(start));
        _end = start + arrived - taken;
        _parser.ExternalizeBulk();
    }

    private void ForgetLarge(bool kept)
    {
        if (!kept)
        {
            LargeMemory.Released(_large!.Length);
        }

        if (_largeReserved)
        {
            _budget.Return(_largeLength);
        }

        _large = null;
        _largeFilled = 0;
        _largeLength = 0;
        _largeReserved = false;
    }

    /// <summary>Nothing more will be read (the connection closes): lets go of the buffers.</summary>
    public void Release()
    {
        if (_buffer.Length > ShrinkAbove)
        {
            LargeMemory.Released(_buffer.Length);
        }

        if (_large is not null)
        {
            ForgetLarge(kept: false); // a large argument that never arrived whole
        }

        if (shared is not null)
        {
            _own = [];
            _buffer = [];
            _end = 0;
            _parser.Reset();
        }
    }

    // Drops the first consumed bytes (the requests already run).
    private void Compact(int consumed)
    {
        int remaining = _end - consumed;
        if (shared is not null && ReferenceEquals(_buffer, shared))
        {
            // The shared buffer goes back to the loop; a partial request moves to a buffer of this client's own.
            if (remaining > 0 && _own.Length < remaining + MinReadRoom)
            {
                _own = new byte[Math.Max(InitialSize, remaining * 2)];
            }

            _buffer.AsSpan(consumed, remaining).CopyTo(_own);
            _buffer = remaining == 0 ? [] : _own;
            _end = remaining;
            _parser.Shift(consumed);
            return;
        }

        if (consumed == 0)
        {
            return;
        }

        if (remaining == 0 && shared is not null)
        {
            if (_buffer.Length > ShrinkAbove)
            {
                LargeMemory.Released(_buffer.Length);
                _own = [];
            }
            else
            {
                _own = _buffer;
            }

            _buffer = [];
        }
        else if (remaining == 0 && _buffer.Length > ShrinkAbove)
        {
            LargeMemory.Released(_buffer.Length);
            _buffer = new byte[InitialSize]; // a large request's buffer is not kept for the connection's life
        }
        else if (remaining > 0)
        {
            _buffer.AsSpan(consumed, remaining).CopyTo(_buffer);
        }

        _end = remaining;
        _parser.Shift(consumed);
    }
}
