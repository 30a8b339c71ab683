using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace Pike.Reactor;

/// <summary>
/// A listening socket: when it is readable the poller accepts until it would block and
/// calls <see cref="HandleAccept"/> with each accepted socket.
/// </summary>
/// <remarks>
/// A client that failed before it was accepted (aborted, reset) is skipped. Out of descriptors
/// or buffers, the listener does not spin on its readable socket: it refuses the waiting clients
/// through a spare descriptor, pauses reading and retries on a timer with back-off, and says so
/// once through <see cref="HandleResourcesExhausted"/> (docs/pitfalls.md 18). Any other accept
/// failure is the listener's own and goes to <see cref="Transport.HandleError"/>; when that
/// leaves the listener open, accepting resumes after the same back-off. A retry resumes reading,
/// also when the owner paused the listener in the meantime.
/// </remarks>
public abstract class Listener : Transport
{
    /// <summary>Creates a listener for <paramref name="poller"/>, or for <see cref="PollerFactory.Default"/> when null.</summary>
    protected Listener(BasePoller? poller = null)
        : base(poller)
    {
    }

    /// <summary>True once the socket listens; a listener's socket is watched for reading from then on.</summary>
    internal bool IsListening { get; private set; }

    /// <summary>The local end the listener is bound to, once listening (with the port the system picked for port 0).</summary>
    public EndPoint? LocalEndPoint => Socket?.LocalEndPoint;

    /// <summary>
    /// Binds to <paramref name="endpoint"/> and listens, creating the socket first when the
    /// listener has none: TCP for an <see cref="IPEndPoint"/>, a Unix domain stream socket for a
    /// <see cref="UnixDomainSocketEndPoint"/> (a path, or on Linux an abstract name starting with
    /// a NUL character). On failure nothing is left open or registered.
    /// </summary>
    /// <remarks>
    /// A Unix socket bound to a path makes a file there, which .NET's <see cref="Socket"/>
    /// deletes when the listener closes; one that a crashed process left behind fails the bind
    /// with <see cref="SocketError.AddressAlreadyInUse"/>, unless <see cref="RemoveStaleSocketFile"/>
    /// is set.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="endpoint"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="backlog"/> is not positive.</exception>
    /// <exception cref="SocketException">The bind or listen failed (address in use, for example).</exception>
    public void Listen(EndPoint endpoint, int backlog = 511)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(backlog);
        ObjectDisposedException.ThrowIf(IsClosed, this);
        Poller.ThrowIfForeignThread();
        DescriptorReserve.Ensure(); // now, while a descriptor can still be had (docs/pitfalls.md 18)
        string? socketFile = UnixSocketFile.PathOf(endpoint);
        if (Socket is { } existing)
        {
            if (!existing.IsBound)
            {
                Bind(existing, endpoint, socketFile);
            }

            existing.Listen(backlog);
            IsListening = true;
            Poller.EndDormancy(this);
            return;
        }

        bool unix = endpoint.AddressFamily == AddressFamily.Unix;
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            if (!unix)
            {
                AllowRebindDuringTimeWait(socket);
            }

            Bind(socket, endpoint, socketFile);
            socket.Listen(backlog);
            IsListening = true;
            SetSocket(socket);
        }
        catch
        {
            IsListening = false;
            socket.Dispose(); // also deletes a socket file the bind made
            throw;
        }
    }

    /// <summary>
    /// Before <see cref="Listen"/> binds a Unix socket to a path where a file already is: remove
    /// it if it is a socket file nobody listens on (what a process that crashed leaves), so that
    /// the bind succeeds. A socket somebody listens on still fails the bind with
    /// <see cref="SocketError.AddressAlreadyInUse"/> (it sees one connection, closed at once);
    /// anything but a socket file (a regular file, a link, a directory) is never removed. Two
    /// processes that start at the same moment on a stale file can both find it stale: only
    /// one start at a time per path is safe. Off by default, as for a bare socket.
    /// </summary>
    public bool RemoveStaleSocketFile { get; set; }

    /// <summary>
    /// Sets SO_REUSEPORT before <see cref="Listen"/> binds, so that several listeners (one per
    /// loop, see <see cref="PollerGroup.ListenOnEach"/>) share one port and the kernel spreads
    /// the connections over them: Linux (SO_REUSEPORT) and FreeBSD (SO_REUSEPORT_LB) only.
    /// Every listener on the port must set it. Off by default: a second server on the same port
    /// then fails to bind instead of silently taking half the connections.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Set on another OS, where SO_REUSEPORT does not balance connections.</exception>
    public bool ReusePort
    {
        get => _reusePort;
        set
        {
            if (value && !OperatingSystem.IsLinux() && !OperatingSystem.IsFreeBSD())
            {
                throw new PlatformNotSupportedException("Listeners that share a port get connections spread over them on Linux and FreeBSD only.");
            }

            _reusePort = value;
        }
    }

    private bool _reusePort;

    private void Bind(Socket socket, EndPoint endpoint, string? socketFile)
    {
        if (_reusePort && endpoint.AddressFamily != AddressFamily.Unix)
        {
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(1 /* SOL_SOCKET */, 15 /* SO_REUSEPORT */, [1, 0, 0, 0]);
            }
            else
            {
                socket.SetRawSocketOption(0xFFFF /* SOL_SOCKET */, 0x10000 /* SO_REUSEPORT_LB */, [1, 0, 0, 0]);
            }
        }

        if (socketFile is not null && RemoveStaleSocketFile)
        {
            UnixSocketFile.RemoveIfStale(socketFile);
        }

        socket.Bind(endpoint);
    }

    /// <summary>
    /// Sets SO_REUSEADDR alone, so that a restarted server can bind while old connections sit in
    /// TIME_WAIT. Not through <see cref="SocketOptionName.ReuseAddress"/>: on Unix .NET sets
    /// SO_REUSEPORT with it, which would let a second listener share the port silently. Not on
    /// Windows, where SO_REUSEADDR lets another socket steal a bound port.
    /// </summary>
    private static void AllowRebindDuringTimeWait(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, [1, 0, 0, 0]);
        }
        else if (!OperatingSystem.IsWindows())
        {
            socket.SetRawSocketOption(0xFFFF /* SOL_SOCKET */, 0x0004 /* SO_REUSEADDR */, [1, 0, 0, 0]);
        }
    }


    /// <summary>
    /// A connection was accepted; the listener's owner now owns <paramref name="accepted"/>.
    /// If this throws, the listener disposes <paramref name="accepted"/> and goes on accepting:
    /// a transport that adopted the socket before the exception must be closed here first
    /// (see <see cref="HandleAcceptFailed"/>).
    /// </summary>
    protected abstract void HandleAccept(Socket accepted);

    /// <summary>
    /// <see cref="HandleAccept"/> threw <paramref name="error"/>; the accepted socket is disposed
    /// already and the listener stays open and registered. Not called when the client went away
    /// meanwhile (end of stream, reset, abort, not connected). By default the error propagates
    /// out of the loop, so that a bug is seen; the listener is not closed, and the next
    /// <see cref="BasePoller.Loop"/> accepts again. Override to log it and keep the loop running.
    /// </summary>
    protected virtual void HandleAcceptFailed(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>
    /// Accepting failed for want of resources (<paramref name="error"/>: out of descriptors,
    /// EMFILE/ENFILE, or of buffer memory, ENOBUFS). Called once per episode, which ends
    /// at the next accept that succeeds. Meanwhile the listener refuses the waiting clients
    /// (<see cref="RefuseWhileExhausted"/>), pauses reading and retries on a timer, from 10 ms
    /// doubling to 1 s. The default does nothing; override to log it.
    /// </summary>
    protected virtual void HandleResourcesExhausted(SocketException error)
    {
    }

    /// <summary>An accept succeeded after <see cref="HandleResourcesExhausted"/>: the episode is over. The default does nothing.</summary>
    protected virtual void HandleResourcesRecovered()
    {
    }

    /// <summary>
    /// Whether a listener out of descriptors accepts each waiting connection through the
    /// process's spare descriptor and closes it at once, so that the client learns now rather
    /// than after its own timeout (libuv's way; default true). False leaves the clients queued
    /// in the backlog until descriptors come back (Netty's way). Only POSIX systems keep a spare.
    /// </summary>
    public bool RefuseWhileExhausted { get; set; } = true;

    /// <summary>Connections accepted and closed at once because descriptors had run out (see <see cref="RefuseWhileExhausted"/>).</summary>
    public long RefusedConnections { get; private set; }

    /// <summary>True from an accept that failed for want of resources until one succeeds.</summary>
    public bool ResourcesExhausted { get; private set; }

    /// <summary>The next retry's delay while accepting backs off.</summary>
    private TimeSpan _retryDelay = FirstRetryDelay;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromSeconds(1);

    private IDisposable? _retry;
    private Action? _retryAccepting;

    /// <summary>Cancels a pending accept retry; the listener's socket closes as any transport's.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _retry?.Dispose();
            _retry = null;
        }

        base.Dispose(disposing);
    }

    /// <summary>A closed listener retries nothing: its timer must not keep the loop (or the listener) alive.</summary>
    private protected override void ReleaseOnClose()
    {
        _retry?.Dispose();
        _retry = null;
    }

    /// <summary>Accepts what is pending, up to <paramref name="limit"/> per readiness (the rest is reported again).</summary>
    internal void AcceptReady(int limit)
    {
        nint key = RegistrationKey;
        Socket listening = Socket!;
        for (int i = 0; i < limit; i++)
        {
            Socket accepted;
            try
            {
                accepted = listening.Accept();
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.WouldBlock)
            {
                return; // spurious readiness, or another process took it
            }
            catch (SocketException error) when (IsClientFailure(error.SocketErrorCode))
            {
                ReactorMetrics.RecordAcceptError(Poller, error, "skipped");
                continue; // that client failed before we accepted it: not the listener's failure
            }
            catch (SocketException error) when (IsResourceShortage(error))
            {
                ReactorMetrics.RecordAcceptError(Poller, error, "backed_off");
                BackOff(listening, limit, error);
                return;
            }
            catch (Exception error)
            {
                ReactorMetrics.RecordAcceptError(Poller, error, "failed");
                BasePoller.RouteError(this, error);

                // An owner that keeps the listener after a failure of its own must not meet the
                // same failure again at once, for ever: the socket is still readable.
                if (!IsClosed && !ReadingPaused)
                {
                    PauseAndRetryLater();
                }

                return;
            }

            _retryDelay = FirstRetryDelay;
            if (ResourcesExhausted)
            {
                ResourcesExhausted = false;
                try
                {
                    HandleResourcesRecovered();
                }
                catch
                {
                    accepted.Dispose();
                    throw;
                }
            }

            try
            {
                HandleAccept(accepted);
            }
            catch (Exception error)
            {
                // A transport that adopted the socket before the throw is closed with it, so
                // that no registration outlives its descriptor; otherwise the socket is disposed.
                if (!Poller.CloseHolderOf(accepted))
                {
                    accepted.Dispose(); // idempotent when the owner disposed it already
                }

                if (!IsClientGone(error))
                {
                    HandleAcceptFailed(error);
                }
            }

            // Ask the kernel rather than pay for an exception at the end of every batch.
            if (RegistrationKey != key || IsClosed || ReadingPaused || !listening.Poll(0, SelectMode.SelectRead))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Out of descriptors or memory, the listening socket stays readable (level-triggered), so
    /// accepting again at once would spin and the waiting clients would hear nothing
    /// (docs/pitfalls.md 18). Refuse who waits, stop reading and try again later.
    /// </summary>
    private void BackOff(Socket listening, int limit, SocketException error)
    {
        if (RefuseWhileExhausted && IsDescriptorShortage(error))
        {
            DescriptorReserve.WithSpareReleased<(Listener Owner, Socket Listening, int Limit)>(
                (this, listening, limit), static state => state.Owner.RefuseWaiting(state.Listening, state.Limit));
        }

        PauseAndRetryLater();
        if (!ResourcesExhausted)
        {
            ResourcesExhausted = true;
            HandleResourcesExhausted(error);
        }
    }

    /// <summary>Stops accepting and resumes after the current delay, which doubles up to a second until an accept succeeds.</summary>
    private void PauseAndRetryLater()
    {
        PauseReading();
        _retry?.Dispose();
        _retry = Poller.CallLater(_retryDelay, _retryAccepting ??= RetryAccepting);
        _retryDelay = _retryDelay * 2 < LastRetryDelay ? _retryDelay * 2 : LastRetryDelay;
    }

    /// <summary>With one descriptor free, accepts and closes each waiting connection: the client sees its connection end now.</summary>
    private void RefuseWaiting(Socket listening, int limit)
    {
        for (int i = 0; i < limit; i++)
        {
            try
            {
                listening.Accept().Dispose();
            }
            catch (SocketException error) when (IsClientFailure(error.SocketErrorCode))
            {
                continue;
            }
            catch (SocketException)
            {
                return; // none waiting, or the freed descriptor went elsewhere
            }

            RefusedConnections++;
        }
    }

    private void RetryAccepting()
    {
        _retry = null;
        if (!IsClosed)
        {
            DescriptorReserve.Ensure(); // lost if another thread took the freed number; take it back when it can be had
            ResumeReading();
        }
    }

    /// <summary>The connection failed between the handshake and the accept (man 7 accept: treat as would-block and go on).</summary>
    private static bool IsClientFailure(SocketError error) => error is
        SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted or SocketError.TimedOut
        or SocketError.AccessDenied /* EPERM: a firewall rule refused it (Linux) */
        or SocketError.NetworkDown or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.HostUnreachable;

    /// <summary>
    /// Out of descriptors, or ENOBUFS (WSAENOBUFS). ENOMEM has no <see cref="SocketError"/> in
    /// .NET (it arrives as the generic <see cref="SocketError.SocketError"/>, with no errno to tell
    /// it by) and is routed as a listener failure.
    /// </summary>
    private static bool IsResourceShortage(SocketException error) =>
        IsDescriptorShortage(error) || error.SocketErrorCode == SocketError.NoBufferSpaceAvailable;

    /// <summary>EMFILE or ENFILE (WSAEMFILE on Windows).</summary>
    private static bool IsDescriptorShortage(SocketException error) => error.SocketErrorCode == SocketError.TooManyOpenSockets;

    /// <summary>What a <see cref="HandleAccept"/> that wrote to or read from a client that left throws.</summary>
    internal static bool IsClientGone(Exception error) =>
        error is EndOfStreamException
        || (error is SocketException socketError && socketError.SocketErrorCode is
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.NotConnected or SocketError.Shutdown);
}
