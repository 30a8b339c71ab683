using System;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Protocol;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// One client: reads into its own buffer, parses and runs every complete request there, and
/// writes all the replies of that read in one send (Redis's write-before-sleep). When the
/// socket would block, the rest waits for <see cref="HandleWrite"/> while reading goes on; a
/// client whose unsent output passes the server's limit is dropped (Redis's
/// client-output-buffer-limit), as is one whose request outgrows the query buffer limit.
/// </summary>
internal sealed class RespConnection : Transport
{
    private const int InitialInput = 16 * 1024;
    private const int MinReadRoom = 4 * 1024;
    private const int ShrinkAbove = 1024 * 1024;

    private readonly RespServerHost _server;
    private readonly RequestParser _parser = new();
    private readonly ReplyBuffer _reply = new();
    private readonly ClientSession _session;
    private byte[] _input = new byte[InitialInput];
    private int _inputEnd;
    private bool _writeBlocked;
    private bool _closeAfterReply;
    private bool _counted;

    public RespConnection(RespServerHost server, long id)
        : base(server.Poller)
    {
        _server = server;
        _session = new ClientSession(id);
        _counted = true;
        server.Stats.ConnectedClients++;
    }

    /// <summary>Unsent reply bytes (the tests watch it grow for a client that does not read).</summary>
    public int PendingOutput => _reply.PendingCount;

    protected override void HandleRead()
    {
        if (_closeAfterReply)
        {
            return;
        }

        if (_input.Length - _inputEnd < MinReadRoom && !GrowInput(_input.Length * 2L))
        {
            return;
        }

        int received = Recv(_input.AsSpan(_inputEnd));
        if (received == 0)
        {
            return; // spurious readiness
        }

        _inputEnd += received;
        ProcessInput();
        if (!IsClosed)
        {
            Flush();
        }
    }

    protected override void HandleWrite()
    {
        _writeBlocked = false;
        Flush();
    }

    protected override void HandleClose() => Shutdown();

    protected override void HandleError(Exception error)
    {
        // One client's failure is its own: the server goes on serving the others.
        ArgumentNullException.ThrowIfNull(error);
        _server.Log($"client {_session.Id}: {error.GetType().Name}: {error.Message}");
        Shutdown();
    }

    private void ProcessInput()
    {
        CommandProcessor processor = _server.Processor;
        while (true)
        {
            ParseStatus status = _parser.Parse(_input.AsSpan(0, _inputEnd));
            if (status == ParseStatus.Complete)
            {
                CommandOutcome outcome = processor.Execute(_input.AsSpan(0, _inputEnd), _parser.Arguments, _reply, _session);
                if (_reply.PendingCount > _server.MaxOutputBytes)
                {
                    _server.Stats.ClientsDroppedForOutput++;
                    _server.Log($"client {_session.Id}: dropped, {_reply.PendingCount} bytes of output unsent (limit {_server.MaxOutputBytes})");
                    Shutdown();
                    return;
                }

                if (outcome == CommandOutcome.CloseAfterReply)
                {
                    BeginClosing();
                    return;
                }

                continue;
            }

            if (status == ParseStatus.Error)
            {
                _server.Stats.ProtocolErrors++;
                _reply.Write(_parser.Error!);
                BeginClosing();
                return;
            }

            break;
        }

        // A bulk argument longer than the buffer gets room as its bytes arrive (HandleRead
        // doubles the buffer when it is nearly full), never on the strength of its header.
        Compact();
    }

    private void Compact()
    {
        int consumed = _parser.RequestStart;
        if (consumed == 0)
        {
            return;
        }

        int remaining = _inputEnd - consumed;
        if (remaining == 0 && _input.Length > ShrinkAbove)
        {
            _input = new byte[InitialInput]; // a large request's buffer is not kept for the connection's life
        }
        else if (remaining > 0)
        {
            _input.AsSpan(consumed, remaining).CopyTo(_input);
        }

        _inputEnd = remaining;
        _parser.Shift(consumed);
    }

    private bool GrowInput(long size)
    {
        if (size > RespServerHost.MaxQueryBytes + RequestParser.MaxLineLength)
        {
            _server.Log($"client {_session.Id}: closed, request over {RespServerHost.MaxQueryBytes} bytes");
            Shutdown();
            return false;
        }

        var bigger = new byte[size];
        _input.AsSpan(0, _inputEnd).CopyTo(bigger);
        _input = bigger;
        return true;
    }

    private void BeginClosing()
    {
        _closeAfterReply = true;
        if (!IsClosed && !ReadingPaused)
        {
            PauseReading();
        }
    }

    private void Flush()
    {
        if (!_writeBlocked && _reply.PendingCount > 0)
        {
            int sent = Send(_reply.Pending);
            _reply.Consume(sent);

            // Send has asked for HandleWrite when it could not take everything.
            _writeBlocked = _reply.PendingCount > 0;
        }

        if (_closeAfterReply && _reply.PendingCount == 0)
        {
            Shutdown();
        }
    }

    private void Shutdown()
    {
        if (_counted)
        {
            _counted = false;
            _server.Stats.ConnectedClients--;
        }

        _reply.Clear();
        Close();
    }
}
