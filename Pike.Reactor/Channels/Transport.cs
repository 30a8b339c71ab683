using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace Pike.Reactor;

/// <summary>
/// A socket watched by a poller, and the owner the poller calls when it is ready. Subclasses
/// override the Handle* methods; the poller calls them on its loop thread.
/// </summary>
/// <remarks>
/// The channel is always watched for reading (unless <see cref="PauseReading"/>), and for
/// writing only while it connects or after <see cref="BasePoller.DeferWrite"/> (which
/// <see cref="Send"/> calls when the socket would block) until the one
/// <see cref="HandleWrite"/> that follows.
/// </remarks>
public abstract partial class Transport : IDisposable
{
    private bool _readingPaused;
    private byte[]? _carried;       // bytes a backend had received for the transport when it left its poller (DelChannel)
    private int _carriedStart;
    private int _carriedEnd;
    private int _carriedError;      // the errno of a receive the backend made then, not reported yet

    /// <summary>Creates a transport for <paramref name="poller"/>, or for <see cref="PollerFactory.Default"/> when null.</summary>
    protected Transport(BasePoller? poller = null)
    {
        Poller = poller ?? PollerFactory.Default;
    }

    /// <summary>The poller that watches this transport.</summary>
    public BasePoller Poller { get; }

    /// <summary>The socket, once created or set; it stays (disposed) after <see cref="Close"/>.</summary>
    public Socket? Socket { get; private set; }

    /// <summary>The OS socket handle (the file descriptor on POSIX); -1 when there is none or it is closed.</summary>
    public nint Fileno { get; private set; } = -1;

    /// <summary>The remote end once connected.</summary>
    public EndPoint? Address { get; private set; }

    /// <summary>True once a connect has finished (or the socket was set already connected), until <see cref="Close"/>.</summary>
    public bool Connected { get; private set; }

    /// <summary>True while reading is paused: no <see cref="HandleRead"/> until <see cref="ResumeReading"/>.</summary>
    public bool ReadingPaused => _readingPaused;

    /// <summary>True once <see cref="Close"/> has run.</summary>
    public bool IsClosed { get; private set; }

    /// <summary>The key of this transport's registration in its poller's table; -1 while not registered. The poller holds the rest.</summary>
    internal nint RegistrationKey { get; private set; } = -1;

    internal bool IsRegistered => RegistrationKey >= 0;

    /// <summary>
    /// Creates a socket and sets it (<see cref="SetSocket"/>). The default protocol,
    /// <see cref="ProtocolType.Unspecified"/> (0), is the family and type's own: TCP for an IP
    /// stream, none for a Unix domain socket (<see cref="AddressFamily.Unix"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The transport already has a socket.</exception>
    /// <exception cref="SocketException">The system refused the socket (a family it does not support, for example).</exception>
    public void CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol = ProtocolType.Unspecified)
    {
        ThrowIfClosed();
        Poller.ThrowIfForeignThread();
        if (Socket is not null)
        {
            throw new InvalidOperationException("The transport already has a socket.");
        }

        var socket = new Socket(family, type, protocol);
        try
        {
            SetSocket(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Adopts <paramref name="socket"/>: makes it non-blocking and adds the transport to its poller.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The transport already has a socket.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed, or <paramref name="socket"/> is disposed.</exception>
    public void SetSocket(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ThrowIfClosed();
        Poller.ThrowIfForeignThread();
        if (Socket is not null)
        {
            throw new InvalidOperationException("The transport already has a socket.");
        }

        // Everything that can fail comes before the registration, so that a failure changes nothing.
        bool connected = socket.Connected;
        EndPoint? remote = connected ? socket.RemoteEndPoint : null;
        socket.Blocking = false;
        nint handle = socket.SafeHandle.DangerousGetHandle();
        Socket = socket;
        Fileno = handle;
        try
        {
            Poller.AddChannel(this);
        }
        catch
        {
            Socket = null;
            Fileno = -1;
            throw;
        }

        if (connected)
        {
            Connected = true;
            Address = remote;
        }
    }

    /// <summary>
    /// Sends what the socket takes now. Returns the bytes sent; 0 when it would block. When not
    /// everything was sent a write is deferred: <see cref="HandleWrite"/> follows once it can take more.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">The transport has no socket, the socket is a datagram socket (<see cref="DatagramTransport.TrySendTo"/> sends those), the poller's loop runs on another thread, the send side is shut down, or bytes queued by <see cref="Write(ReadOnlySpan{byte})"/> are still waiting (nothing is sent).</exception>
    /// <exception cref="SocketException">The send failed.</exception>
    public int Send(ReadOnlySpan<byte> data)
    {
        Socket socket = WritableSocket();
        if (_output is { IsEmpty: false })
        {
            throw new InvalidOperationException($"Write has queued {_output.Bytes} bytes the socket has not taken yet; a Send now would put its bytes before them. Use Write (or wait for HandleDrained).");
        }

        if (_sendInFlight > 0)
        {
            // A Write's bytes are in a send request of the poller (docs/io_uring.md, "Sends with
            // the wait"), their fate known at its completion: nothing can go before it, as when
            // the socket is full.
            RequestWrite();
            return 0;
        }

        if (data.IsEmpty)
        {
            return 0;
        }

        int sent = socket.Send(data, SocketFlags.None, out SocketError error);
        NoteActivity();
        if (error == SocketError.Success)
        {
            if (sent < data.Length)
            {
                RequestWrite();
            }

            return sent;
        }

        if (error == SocketError.WouldBlock)
        {
            RequestWrite();
            return 0;
        }

        throw new SocketException((int)error);
    }

    /// <summary>Reads what is there into <paramref name="buffer"/>. Returns the bytes read; 0 when it would block.</summary>
    /// <exception cref="EndOfStreamException">The peer closed its end.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">The transport has no socket, the socket is a datagram socket (<see cref="DatagramTransport.TryReceiveFrom(Span{byte}, System.Net.SocketAddress, out int)"/> reads those), or the poller's loop runs on another thread (nothing is read).</exception>
    /// <exception cref="SocketException">The receive failed (a reset, for example).</exception>
    public int Recv(Span<byte> buffer)
    {
        Socket socket = StreamSocket();
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_carriedEnd > _carriedStart || _carriedError != 0)
        {
            return TakeCarried(buffer);
        }

        int taken = Poller.TakeReceivedFor(this, buffer);
        if (taken != BasePoller.ReceiveWithCall)
        {
            // The backend received for this channel (docs/io_uring.md, "Receives through the ring").
            return taken switch
            {
                >= 0 => taken,
                BasePoller.ReceivedEnd => throw new EndOfStreamException("The peer closed the connection."),
                _ => throw new SocketException((int)Core.Interop.SocketErrors.FromErrno(-taken)),
            };
        }

        int received = socket.Receive(buffer, SocketFlags.None, out SocketError error);
        if (error == SocketError.Success)
        {
            return received > 0 ? received : throw new EndOfStreamException("The peer closed the connection.");
        }

        if (error == SocketError.WouldBlock)
        {
            return 0;
        }

        throw new SocketException((int)error);
    }

    /// <summary>Whether the transport holds bytes (or an error) its poller's backend received for it before it left the poller; Recv returns them first.</summary>
    internal bool HasCarriedInput => _carriedEnd > _carriedStart || _carriedError != 0;

    /// <summary>For <see cref="BasePoller.DelChannel"/>: keeps bytes the backend received for this transport and it has not read.</summary>
    internal void Carry(ReadOnlySpan<byte> bytes)
    {
        if (_carried is null || _carriedEnd + bytes.Length > _carried.Length)
        {
            int kept = _carriedEnd - _carriedStart;
            byte[] grown = new byte[Math.Max(4096, (kept + bytes.Length) * 2)];
            _carried?.AsSpan(_carriedStart, kept).CopyTo(grown);
            _carried = grown;
            _carriedStart = 0;
            _carriedEnd = kept;
        }

        bytes.CopyTo(_carried.AsSpan(_carriedEnd));
        _carriedEnd += bytes.Length;
    }

    /// <summary>For <see cref="BasePoller.DelChannel"/>: keeps a receive error the backend had not reported.</summary>
    internal void CarryError(int errno) => _carriedError = errno;

    private int TakeCarried(Span<byte> buffer)
    {
        if (_carriedEnd == _carriedStart)
        {
            int errno = _carriedError;
            _carriedError = 0;
            throw new SocketException((int)Core.Interop.SocketErrors.FromErrno(errno));
        }

        int taken = Math.Min(buffer.Length, _carriedEnd - _carriedStart);
        _carried.AsSpan(_carriedStart, taken).CopyTo(buffer);
        _carriedStart += taken;
        if (_carriedStart == _carriedEnd)
        {
            _carried = null; // read whole: the memory goes
            _carriedStart = 0;
            _carriedEnd = 0;
        }

        return taken;
    }

    /// <summary>Stops reading: no <see cref="HandleRead"/> until <see cref="ResumeReading"/> (back-pressure for proxies and slow consumers).</summary>
    public void PauseReading()
    {
        ThrowIfClosed();
        Poller.ThrowIfForeignThread();
        bool was = _readingPaused;
        _readingPaused = true;
        try
        {
            Poller.UpdateInterest(this);
        }
        catch
        {
            _readingPaused = was; // the kernel refused: nothing changed
            throw;
        }
    }

    /// <summary>Resumes reading after <see cref="PauseReading"/>.</summary>
    public void ResumeReading()
    {
        ThrowIfClosed();
        Poller.ThrowIfForeignThread();
        bool was = _readingPaused;
        _readingPaused = false;
        try
        {
            Poller.UpdateInterest(this);
        }
        catch
        {
            _readingPaused = was;
            throw;
        }

        if (was && HasCarriedInput && IsRegistered)
        {
            Poller.DispatchCarriedLater(this); // no kernel event will tell of bytes kept from before
        }
    }

    /// <summary>Removes the transport from its poller and closes the socket. Idempotent. Called on the loop thread (or while no loop runs).</summary>
    /// <exception cref="InvalidOperationException">Called from another thread while the loop runs (use <see cref="BasePoller.Post"/>).</exception>
    public void Close()
    {
        if (IsClosed)
        {
            return;
        }

        Poller.ThrowIfForeignThread();
        IsClosed = true;
        try
        {
            if (HasSendRequest)
            {
                // Its bytes go before the end of the stream, and not to a socket that gets the number next.
                Poller.SubmitSendsBeforeClose();
            }

            if (IsRegistered)
            {
                // Out of the kernel set before the descriptor closes: a closed descriptor can no
                // longer be named to epoll_ctl, and a dup of it would keep the registration alive.
                Poller.DelChannel(this);
            }
        }
        finally
        {
            Socket?.Dispose();
            Fileno = -1;
            Connected = false;
            FinishClose();
        }
    }

    /// <summary>Same as <see cref="Close"/>.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the transport; subclasses release what they hold besides.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }
    }

    /// <summary>The connect started by <see cref="Connect(EndPoint)"/> succeeded.</summary>
    protected internal virtual void HandleConnect()
    {
    }

    /// <summary>The socket is readable (data, end of stream, or an error that <see cref="Recv"/> will raise).</summary>
    protected internal virtual void HandleRead()
    {
    }

    /// <summary>The socket can take more data after a deferred write; write interest is one-shot.</summary>
    protected internal virtual void HandleWrite()
    {
    }

    /// <summary>The peer closed or reset the connection, or the socket was disposed (<see cref="HandleClose(CloseReason)"/> says why). By default, <see cref="Close"/>.</summary>
    protected internal virtual void HandleClose() => Close();

    /// <summary>
    /// A handler threw <paramref name="error"/>, or a connect failed. By default the transport is
    /// closed and the error propagates out of the loop, so that no failure goes unseen; override
    /// to handle it and keep the loop running.
    /// </summary>
    protected internal virtual void HandleError(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Close();
        ExceptionDispatchInfo.Throw(error);
    }

    internal void AttachRegistration(nint key) => RegistrationKey = key;

    internal void DetachRegistration() => RegistrationKey = -1;

    internal void MarkConnected(EndPoint remote)
    {
        CancelConnectAttempt();
        Connected = true;
        Address = remote;
    }

    /// <summary>Removes and disposes the socket without closing the transport (a bind that failed on a socket the call made): the transport is as before it had one.</summary>
    private protected void DiscardSocket()
    {
        if (IsRegistered)
        {
            Poller.DelChannel(this);
        }

        Socket?.Dispose();
        Socket = null;
        Fileno = -1;
    }

    private protected void RequestWrite()
    {
        if (IsRegistered && !Poller.IsWriteDeferred(this))
        {
            Poller.DeferWrite(this);
        }
    }

    /// <summary>The socket, for an operation that belongs to the loop thread: refused before it touches the socket when closed or called from another thread while the loop runs.</summary>
    private protected Socket ActiveSocket()
    {
        ThrowIfClosed();
        Poller.ThrowIfForeignThread();
        return Socket ?? throw new InvalidOperationException("The transport has no socket; call CreateSocket or SetSocket first.");
    }

    /// <summary>As <see cref="ActiveSocket"/>, for a byte-stream call: a datagram socket's boundaries and zero-length datagrams have no place in it.</summary>
    private Socket StreamSocket()
    {
        Socket socket = ActiveSocket();
        if (socket.SocketType == SocketType.Dgram)
        {
            throw new InvalidOperationException("A datagram socket is read and written one datagram at a time: use DatagramTransport's TryReceiveFrom/TryReceive and TrySendTo/TrySend.");
        }

        return socket;
    }

    private void ThrowIfClosed() => ObjectDisposedException.ThrowIf(IsClosed, this);
}
