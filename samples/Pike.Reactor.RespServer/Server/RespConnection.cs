using System;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Protocol;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// One client on the reactor: one read per readiness into its <see cref="ClientInput"/>, every
/// complete request run, and all the replies of that read handed to one
/// <see cref="Transport.Write(ReadOnlySpan{byte})"/> (Redis's write-before-sleep): sent at once
/// on epoll, carried by the next wait on io_uring. What the socket does not take waits in the
/// transport's queue while reading goes on; a client whose unsent output passes the server's
/// limit is dropped (Redis's client-output-buffer-limit).
/// </summary>
internal sealed class RespConnection : Transport
{
    /// <summary>
    /// Unsent output at which a client gets no more turns (and is not read) until the socket
    /// took it down to <see cref="OutputResumeBytes"/> (the transport's watermarks): a client that does not read its replies
    /// holds what its last turn made (at most a turn's replies, see
    /// <see cref="ClientInput.MaxReplyBytesPerTurn"/>), not the output limit, and costs the loop
    /// nothing meanwhile (docs/resp-server.md, "Clients that do not read").
    /// </summary>
    public const int OutputPauseBytes = 256 * 1024;

    /// <summary>Unsent output at or below which a paused client's pipeline goes on.</summary>
    public const int OutputResumeBytes = OutputPauseBytes / 4;

    /// <summary>How long a connection that QUIT (or sent a protocol error) waits, its reply sent, for the client to close its end.</summary>
    public static readonly TimeSpan CloseAfterReplyTimeout = TimeSpan.FromSeconds(2);

    private readonly RespServerHost _server;
    private readonly ClientInput _input;
    private readonly ReplyBuffer _reply;
    private readonly ClientSession _session;
    private bool _closeAfterReply;
    private bool _counted;
    private bool _yielded;
    private bool _outputPaused;
    private readonly Action _resume;

    public RespConnection(RespServerHost server, long id)
        : base(server.Poller)
    {
        _server = server;
        _input = new ClientInput(server.SharedInput, server.LargeArguments);
        _reply = new ReplyBuffer(server.SharedOutput);
        _session = new ClientSession(id);
        _counted = true;
        _resume = Resume;
        HighWatermark = OutputPauseBytes;
        LowWatermark = OutputResumeBytes;
        Closed += static (transport, _) => ((RespConnection)transport).Release();
        server.Stats.ConnectedClients++;
    }

    protected override void HandleRead()
    {
        if (_closeAfterReply || _outputPaused)
        {
            return;
        }

        Memory<byte> space = _input.ReadSpace();
        if (space.IsEmpty)
        {
            _server.Log($"client {_session.Id}: closed, request over {ClientInput.MaxQueryBytes} bytes");
            Close();
            return;
        }

        int received = Recv(space.Span);
        if (received == 0)
        {
            return; // spurious readiness
        }

        _server.Events++;
        _input.Advance(received);
        RunTurn();
    }

    // The rest of a pipeline whose turn ended, after the other clients had theirs.
    private void Resume()
    {
        _yielded = false;
        if (!IsClosed && !_closeAfterReply && !_outputPaused)
        {
            RunTurn();
        }
    }

    private void RunTurn()
    {
        _reply.Lend();
        // The limit counts what the transport still holds from earlier turns.
        int outputRoom = (int)Math.Max(1, _server.MaxOutputBytes - QueuedBytes);
        switch (_input.ProcessAvailable(_server.Processor, _reply, _session, outputRoom))
        {
            case BatchResult.Continue:
                if (ReadingPaused)
                {
                    ResumeReading(); // the pipeline that had paused it has run
                }

                break;
            case BatchResult.Yield:
                // Nothing more is read until the requests already here have run.
                if (!ReadingPaused)
                {
                    PauseReading();
                }

                if (!_yielded)
                {
                    _yielded = true;
                    Poller.Post(_resume);
                }

                break;
            case BatchResult.Drop:
                _server.Log($"client {_session.Id}: dropped, {_input.DropReason}");
                Close();
                return;
            case BatchResult.CloseAfterReply:
                _closeAfterReply = true;
                PauseReading();
                break;
        }

        Flush();
        if (!IsClosed && !_closeAfterReply && !IsWritable)
        {
            // Back-pressure: no more work for this client until its replies drain (HandleWritabilityChanged).
            _outputPaused = true;
            if (!ReadingPaused)
            {
                PauseReading();
            }
        }

        LargeMemory.CollectIfDue();
    }

    protected override void HandleWritabilityChanged()
    {
        if (IsWritable && _outputPaused && !IsClosed && !_closeAfterReply)
        {
            _outputPaused = false;
            if (_input.HasInput)
            {
                RunTurn(); // the rest of the pipeline, then reading resumes as after any turn
            }
            else
            {
                ResumeReading();
            }
        }
    }

    /// <summary>Whether the client waits for its replies to drain before it gets another turn (for the tests).</summary>
    internal bool OutputPaused => _outputPaused;

    protected override void HandleError(Exception error)
    {
        // One client's failure is its own: the server goes on serving the others.
        ArgumentNullException.ThrowIfNull(error);
        _server.Log($"client {_session.Id}: {error.GetType().Name}: {error.Message}");
        Close();
    }

    private void Flush()
    {
        if (_reply.PendingCount > 0)
        {
            Write(_reply.Pending); // what the socket does not take now is queued by the transport
            _reply.Consume(_reply.PendingCount);
        }

        _reply.Return();
        if (_closeAfterReply && !IsClosing)
        {
            // QUIT's or a protocol error's reply goes first, then the end of the stream; what the
            // client still sends is read and dropped (a close with unread input would reset the
            // connection and could cost it the reply), and the connection closes when the
            // client closes its end, or after CloseAfterReplyTimeout.
            CloseAfterFlush(CloseAfterReplyTimeout);
        }
    }

    // Every close, whoever made it (this class, a lingering close's end, the poller's dispose).
    private void Release()
    {
        if (_counted)
        {
            _counted = false;
            _server.Stats.ConnectedClients--;
        }

        _reply.Clear();
        _input.Release();
        LargeMemory.CollectIfDue();
    }
}
