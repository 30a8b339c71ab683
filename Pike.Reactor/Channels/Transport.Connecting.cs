using System;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Pike.Reactor;

/// <summary>Connecting: to an address or a host name (resolved off the loop thread, each address in turn), with an optional timeout.</summary>
public abstract partial class Transport
{
    private IDisposable? _connectTimer;
    private IPAddress[]? _candidates;  // the resolved addresses not tried yet (from _nextCandidate on)
    private int _nextCandidate;
    private int _candidatePort;
    private bool _resolving;

    /// <summary>
    /// Starts a non-blocking connect; <see cref="HandleConnect"/> follows once established,
    /// <see cref="HandleError"/> if it fails. A datagram socket's connect, which only names the
    /// peer, is done when this returns (its <see cref="HandleConnect"/> still comes from the loop). A <see cref="DnsEndPoint"/> is resolved off the loop
    /// thread (the loop never blocks on a name lookup) and its addresses of the socket's family
    /// are tried in the order the resolver gave them, each on a fresh socket, until one
    /// connects; <see cref="HandleError"/> hears of the last failure.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="address"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No socket, already connected or connecting, not registered, or the loop runs on another thread.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    public void Connect(EndPoint address) => StartConnect(address, null);

    /// <summary>
    /// As <see cref="Connect(EndPoint)"/>, failing with <see cref="SocketError.TimedOut"/> through
    /// <see cref="HandleError"/> when the connect (name lookup and every address included) has not
    /// finished after <paramref name="timeout"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is not positive.</exception>
    /// <inheritdoc cref="Connect(EndPoint)"/>
    public void Connect(EndPoint address, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        StartConnect(address, timeout);
    }

    /// <summary>A connect the poller watched failed with <paramref name="error"/>: the next resolved address is tried, or <see cref="HandleError"/> hears of it.</summary>
    internal void ConnectFailed(SocketError error)
    {
        if (!IsClosed && IsRegistered && _candidates is { } candidates && _nextCandidate < candidates.Length)
        {
            try
            {
                ReplaceSocket();
                ConnectToNextCandidate();
                return;
            }
            catch (SocketException next)
            {
                error = next.SocketErrorCode;
            }
        }

        CancelConnectAttempt();
        _reasonHint = Pike.Reactor.CloseReason.Error;
        try
        {
            HandleError(new SocketException((int)error));
        }
        finally
        {
            _reasonHint = null;
        }
    }

    private void StartConnect(EndPoint address, TimeSpan? timeout)
    {
        ArgumentNullException.ThrowIfNull(address);
        Socket socket = ActiveSocket();
        if (Connected || _resolving || Poller.IsConnecting(this))
        {
            throw new InvalidOperationException(Connected ? "The transport is already connected." : "A connect is already in progress.");
        }

        if (!IsRegistered)
        {
            throw new InvalidOperationException("The transport is not registered with its poller (DelChannel removed it); add it again before connecting.");
        }

        if (address is DnsEndPoint named && !IPAddress.TryParse(named.Host, out _))
        {
            _resolving = true;
            StartTimer(timeout);
            Resolve(named);
            return;
        }

        EndPoint target = address is DnsEndPoint literal ? new IPEndPoint(IPAddress.Parse(literal.Host), literal.Port) : address;
        ConnectSocket(socket, target);
        if (!Connected)
        {
            StartTimer(timeout);
        }
    }

    private void StartTimer(TimeSpan? timeout)
    {
        if (timeout is { } limit)
        {
            _connectTimer = Poller.CallLater(limit, ConnectTimedOut);
        }
    }

    private void Resolve(DnsEndPoint named)
    {
        BasePoller poller = Poller;
        AddressFamily family = Socket!.AddressFamily == AddressFamily.InterNetworkV6 && Socket.DualMode ? AddressFamily.Unspecified : Socket.AddressFamily;
        Dns.GetHostAddressesAsync(named.Host, family).ContinueWith(
            lookup =>
            {
                try
                {
                    poller.Post(() => Resolved(lookup, named.Port));
                }
                catch (ObjectDisposedException)
                {
                    // The poller is gone, and the transport with it.
                }
            },
            TaskScheduler.Default);
    }

    private void Resolved(Task<IPAddress[]> lookup, int port)
    {
        if (IsClosed || !_resolving)
        {
            return; // closed or timed out meanwhile
        }

        _resolving = false;
        if (!IsRegistered)
        {
            ConnectFailed(SocketError.NotConnected); // removed from its poller while the name was looked up
            return;
        }

        if (!lookup.IsCompletedSuccessfully)
        {
            SocketError error = lookup.Exception?.InnerException is SocketException failure ? failure.SocketErrorCode : SocketError.HostNotFound;
            ConnectFailed(error);
            return;
        }

        IPAddress[] addresses = Array.FindAll(lookup.Result, AcceptsAddress);
        if (addresses.Length == 0)
        {
            ConnectFailed(SocketError.HostNotFound);
            return;
        }

        _candidates = addresses;
        _nextCandidate = 0;
        _candidatePort = port;
        try
        {
            ConnectToNextCandidate();
        }
        catch (SocketException error)
        {
            ConnectFailed(error.SocketErrorCode);
        }
    }

    private bool AcceptsAddress(IPAddress address) =>
        address.AddressFamily == Socket!.AddressFamily || (Socket.AddressFamily == AddressFamily.InterNetworkV6 && Socket.DualMode);

    private void ConnectToNextCandidate()
    {
        IPAddress address = _candidates![_nextCandidate++];
        ConnectSocket(Socket!, new IPEndPoint(address, _candidatePort));
    }

    private void ConnectSocket(Socket socket, EndPoint target)
    {
        SocketError immediate = SocketError.Success;
        bool datagram = socket.SocketType == SocketType.Dgram;
        try
        {
            if (datagram)
            {
                // A datagram connect only names the peer (a route lookup, no packet): done in
                // blocking mode it returns at once everywhere, where non-blocking Wine answers
                // WSAEWOULDBLOCK and then never reports the socket writable through WSAPoll or select.
                socket.Blocking = true;
                try
                {
                    socket.Connect(target);
                }
                finally
                {
                    socket.Blocking = false;
                }
            }
            else
            {
                socket.Connect(target);
            }
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.WouldBlock && socket.AddressFamily == AddressFamily.Unix)
        {
            // A Unix listener's backlog is full: nothing is in progress (EAGAIN, not EINPROGRESS).
            immediate = error.SocketErrorCode;
        }
        catch (SocketException error) when (error.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.AlreadyInProgress)
        {
            // The usual case: the outcome arrives as writability, checked through SO_ERROR.
        }
        catch (SocketException error)
        {
            // A failure the kernel knew at once still reaches HandleError from the loop, like any other.
            immediate = error.SocketErrorCode;
        }

        if (immediate == SocketError.Success && datagram)
        {
            // Nothing to watch for: the connect is done. HandleConnect still comes from the
            // loop, as for a stream.
            MarkConnected(socket.RemoteEndPoint ?? target);
            Poller.Post(ReportDatagramConnect);
            return;
        }

        Poller.BeginConnect(this, immediate);
    }

    private void ReportDatagramConnect()
    {
        if (IsClosed || !Connected || !IsRegistered)
        {
            return;
        }

        try
        {
            HandleConnect();
        }
        catch (Exception error)
        {
            RouteError(error);
        }
    }

    /// <summary>
    /// A failed connect leaves a socket that POSIX does not let connect again: the next address
    /// gets a fresh one, registered in its place. It copies the family, type, protocol and
    /// dual mode, not other options the owner set (a local bind, buffer sizes).
    /// </summary>
    private void ReplaceSocket()
    {
        Socket old = Socket!;
        var fresh = new Socket(old.AddressFamily, old.SocketType, old.ProtocolType);
        try
        {
            if (old.AddressFamily == AddressFamily.InterNetworkV6)
            {
                fresh.DualMode = old.DualMode;
            }

            fresh.Blocking = false;
        }
        catch
        {
            fresh.Dispose();
            throw;
        }

        if (IsRegistered)
        {
            Poller.DelChannel(this);
        }

        old.Dispose();
        Socket = fresh;
        Fileno = fresh.SafeHandle.DangerousGetHandle();
        Poller.AddChannel(this);
    }

    private void ConnectTimedOut()
    {
        _connectTimer = null;
        if (IsClosed || Connected || !(_resolving || Poller.IsConnecting(this)))
        {
            return;
        }

        _resolving = false;
        _candidates = null;
        Poller.AbortConnect(this);
        try
        {
            // The kernel's connect would go on and might finish later, unnoticed: the transport
            // gets a fresh socket, so that a timed-out connect is over.
            ReplaceSocket();
        }
        catch (SocketException)
        {
            // Out of sockets: the error reported is the timeout all the same.
        }

        ConnectFailed(SocketError.TimedOut);
    }

    private void CancelConnectAttempt()
    {
        _connectTimer?.Dispose();
        _connectTimer = null;
        _candidates = null;
        _resolving = false;
    }
}
