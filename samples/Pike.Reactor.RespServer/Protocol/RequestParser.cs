using System;
using System.Text;

namespace Pike.Reactor.RespServer.Protocol;

/// <summary>
/// Parses RESP2 requests in place from a connection's input buffer, the way Redis's
/// <c>processMultibulkBuffer</c>/<c>processInlineBuffer</c> do: multibulk (<c>*N\r\n$len\r\n...</c>)
/// and inline (<c>PING\r\n</c>) requests, arguments left where they are (as ranges), and the
/// parser's place kept between reads so that a request split at any byte costs no re-scan.
/// </summary>
/// <remarks>
/// Limits are checked on the header, before the buffer grows for a request: a bulk length over
/// <see cref="MaxBulkLength"/> or an argument count over <see cref="MaxArguments"/> is an error,
/// and the argument table grows only as arguments actually arrive.
/// </remarks>
internal sealed class RequestParser
{
    /// <summary>Redis's <c>proto-max-bulk-len</c> default.</summary>
    public const long MaxBulkLength = 512L * 1024 * 1024;

    /// <summary>
    /// More arguments than Redis would accept from a client in practice (its limit is INT_MAX,
    /// which lets one header promise gigabytes of bookkeeping).
    /// </summary>
    public const int MaxArguments = 1024 * 1024;

    /// <summary>Redis's <c>PROTO_INLINE_MAX_SIZE</c>: the longest line (inline request or count header) without its end.</summary>
    public const int MaxLineLength = 64 * 1024;

    private ArgRange[] _args = new ArgRange[8];
    private int _argCount;
    private int _position;
    private bool _inMultibulk;
    private int _remaining;
    private int _bulkLength = -1;
    private bool _external;
    private int _externalLength;

    /// <summary>Where the request being parsed starts in the buffer.</summary>
    public int RequestStart { get; private set; }

    /// <summary>Where parsing resumes: after a complete request, its end.</summary>
    public int Position => _position;

    /// <summary>When incomplete inside a bulk argument: how long the buffer must be (from its start) to hold it; else 0.</summary>
    public long RequiredLength { get; private set; }

    /// <summary>
    /// When incomplete inside a bulk argument's data: the argument's length (its data starts at
    /// <see cref="Position"/>); else -1.
    /// </summary>
    public int PendingBulkLength => _inMultibulk && _bulkLength >= 0 && !_external ? _bulkLength : -1;

    /// <summary>
    /// The pending bulk argument's data is kept outside the buffer (see <see cref="ClientInput"/>'s
    /// large arguments): the buffer ends where its data would start, and the parser goes on after
    /// it as if it had been read, taking the next two bytes as its CRLF. The argument is given as
    /// <see cref="ArgRange.External"/>.
    /// </summary>
    public void ExternalizeBulk()
    {
        _external = true;
        _externalLength = _bulkLength;
        _bulkLength = 0;
        RequiredLength = 0;
    }

    /// <summary>The arguments of the request just completed.</summary>
    public ReadOnlySpan<ArgRange> Arguments => _args.AsSpan(0, _argCount);

    /// <summary>After <see cref="ParseStatus.Error"/>: the whole error reply, <c>-ERR Protocol error: ...\r\n</c>.</summary>
    public byte[]? Error { get; private set; }

    /// <summary>Parses from <see cref="Position"/> within <paramref name="buffer"/> (the filled part of the input buffer).</summary>
    public ParseStatus Parse(Span<byte> buffer)
    {
        RequiredLength = 0;
        if (!_inMultibulk)
        {
            _argCount = 0;
            RequestStart = _position;
            if (_position >= buffer.Length)
            {
                return ParseStatus.Incomplete;
            }

            if (buffer[_position] != (byte)'*')
            {
                return ParseInline(buffer);
            }

            int lineEnd = FindLineEnd(buffer);
            if (lineEnd < 0)
            {
                return lineEnd == -2 ? Fail("too big mbulk count string") : ParseStatus.Incomplete;
            }

            if (!RespInteger.TryParse(buffer[(_position + 1)..lineEnd], out long count) || count > MaxArguments)
            {
                return Fail("invalid multibulk length");
            }

            _position = lineEnd + 2;
            if (count <= 0)
            {
                return ParseStatus.Complete; // Redis ignores "*0" and "*-1" requests
            }

            _inMultibulk = true;
            _remaining = (int)count;
            _bulkLength = -1;
        }

        while (_remaining > 0)
        {
            if (_bulkLength < 0)
            {
                if (_position >= buffer.Length)
                {
                    return ParseStatus.Incomplete;
                }

                int lineEnd = FindLineEnd(buffer);
                if (lineEnd < 0)
                {
                    return lineEnd == -2 ? Fail("too big bulk count string") : ParseStatus.Incomplete;
                }

                if (buffer[_position] != (byte)'$')
                {
                    return FailExpectedDollar(buffer[_position]);
                }

                if (!RespInteger.TryParse(buffer[(_position + 1)..lineEnd], out long length) || length < 0 || length > MaxBulkLength)
                {
                    return Fail("invalid bulk length");
                }

                _position = lineEnd + 2;
                _bulkLength = (int)length;
            }

            long end = (long)_position + _bulkLength + 2;
            if (end > buffer.Length)
            {
                RequiredLength = end;
                return ParseStatus.Incomplete;
            }

            if (_external)
            {
                _external = false;
                AddArgument(ArgRange.ExternalOffset, _externalLength);
            }
            else
            {
                AddArgument(_position, _bulkLength);
            }

            // Like Redis, the two bytes after the data are taken as CRLF without looking.
            _position = (int)end;
            _bulkLength = -1;
            _remaining--;
        }

        _inMultibulk = false;
        return ParseStatus.Complete;
    }

    /// <summary>The buffer's content moved <paramref name="delta"/> bytes towards its start (compaction).</summary>
    public void Shift(int delta)
    {
        _position -= delta;
        RequestStart -= delta;
        for (int i = 0; i < _argCount; i++)
        {
            if (!_args[i].IsExternal)
            {
                _args[i] = new ArgRange(_args[i].Offset - delta, _args[i].Length);
            }
        }
    }

    /// <summary>Forgets everything: a new connection, or the buffer was emptied.</summary>
    public void Reset()
    {
        _argCount = 0;
        _position = 0;
        _inMultibulk = false;
        _remaining = 0;
        _bulkLength = -1;
        _external = false;
        RequestStart = 0;
        RequiredLength = 0;
        Error = null;
    }

    // The index of the '\r' that ends the line at _position, when the byte after it has arrived
    // too (Redis takes it as '\n' without looking); -1 for more input; -2 when the line is too long.
    private int FindLineEnd(ReadOnlySpan<byte> buffer)
    {
        int cr = buffer[_position..].IndexOf((byte)'\r');
        if (cr < 0)
        {
            return buffer.Length - _position > MaxLineLength ? -2 : -1;
        }

        int lineEnd = _position + cr;
        return lineEnd + 2 > buffer.Length ? -1 : lineEnd;
    }

    private ParseStatus ParseInline(Span<byte> buffer)
    {
        int newline = buffer[_position..].IndexOf((byte)'\n');
        if (newline < 0)
        {
            return buffer.Length - _position > MaxLineLength ? Fail("too big inline request") : ParseStatus.Incomplete;
        }

        int lineEnd = _position + newline;
        int contentEnd = lineEnd > _position && buffer[lineEnd - 1] == (byte)'\r' ? lineEnd - 1 : lineEnd;
        if (!SplitInline(buffer, _position, contentEnd))
        {
            return Fail("unbalanced quotes in request");
        }

        _position = lineEnd + 1;
        return ParseStatus.Complete;
    }

    // Redis's sdssplitargs, in place: unescaping only ever shortens, so each argument is
    // written over the bytes it was read from.
    private bool SplitInline(Span<byte> buffer, int start, int end)
    {
        int p = start;
        while (true)
        {
            while (p < end && IsSpace(buffer[p]))
            {
                p++;
            }

            if (p >= end)
            {
                return true;
            }

            int argStart = p;
            int w = p;
            bool inDouble = false;
            bool inSingle = false;
            bool done = false;
            while (!done)
            {
                if (inDouble)
                {
                    if (p >= end)
                    {
                        return false;
                    }

                    byte c = buffer[p];
                    if (c == (byte)'\\' && p + 3 < end && buffer[p + 1] == (byte)'x' && IsHex(buffer[p + 2]) && IsHex(buffer[p + 3]))
                    {
                        buffer[w++] = (byte)((HexValue(buffer[p + 2]) << 4) | HexValue(buffer[p + 3]));
                        p += 3;
                    }
                    else if (c == (byte)'\\' && p + 1 < end)
                    {
                        p++;
                        buffer[w++] = buffer[p] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            _ => buffer[p],
                        };
                    }
                    else if (c == (byte)'"')
                    {
                        if (p + 1 < end && !IsSpace(buffer[p + 1]))
                        {
                            return false; // a closing quote must end the argument
                        }

                        done = true;
                    }
                    else
                    {
                        buffer[w++] = c;
                    }
                }
                else if (inSingle)
                {
                    if (p >= end)
                    {
                        return false;
                    }

                    byte c = buffer[p];
                    if (c == (byte)'\\' && p + 1 < end && buffer[p + 1] == (byte)'\'')
                    {
                        p++;
                        buffer[w++] = (byte)'\'';
                    }
                    else if (c == (byte)'\'')
                    {
                        if (p + 1 < end && !IsSpace(buffer[p + 1]))
                        {
                            return false;
                        }

                        done = true;
                    }
                    else
                    {
                        buffer[w++] = c;
                    }
                }
                else if (p >= end)
                {
                    done = true;
                }
                else
                {
                    byte c = buffer[p];
                    switch (c)
                    {
                        case (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or 0:
                            done = true;
                            break;
                        case (byte)'"':
                            inDouble = true;
                            break;
                        case (byte)'\'':
                            inSingle = true;
                            break;
                        default:
                            buffer[w++] = c;
                            break;
                    }
                }

                if (p < end)
                {
                    p++;
                }
            }

            AddArgument(argStart, w - argStart);
        }
    }

    private void AddArgument(int offset, int length)
    {
        if (_argCount == _args.Length)
        {
            Array.Resize(ref _args, _args.Length * 2);
        }

        _args[_argCount++] = new ArgRange(offset, length);
    }

    private ParseStatus Fail(string reason)
    {
        Error = Encoding.ASCII.GetBytes($"-ERR Protocol error: {reason}\r\n");
        return ParseStatus.Error;
    }

    private ParseStatus FailExpectedDollar(byte got)
    {
        // Byte for byte what Redis sends, with CR and LF turned into spaces as its error replies do.
        byte shown = got is (byte)'\r' or (byte)'\n' ? (byte)' ' : got;
        byte[] head = "-ERR Protocol error: expected '$', got '"u8.ToArray();
        byte[] error = new byte[head.Length + 4];
        head.CopyTo(error, 0);
        error[head.Length] = shown;
        error[head.Length + 1] = (byte)'\'';
        error[head.Length + 2] = (byte)'\r';
        error[head.Length + 3] = (byte)'\n';
        Error = error;
        return ParseStatus.Error;
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

    private static int HexValue(byte c) => c <= (byte)'9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
