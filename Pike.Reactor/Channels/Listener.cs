using System;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// A listening socket: when it is readable the poller accepts until it would block and
/// calls <see cref="HandleAccept"/> with each accepted socket.
/// </summary>
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
    /// Binds to <paramref name="endpoint"/> and listens (creating a TCP socket first when the
    /// listener has none). On failure nothing is left open or registered.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="endpoint"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="backlog"/> is not positive.</exception>
    /// <exception cref="SocketException">The bind or listen failed (address in use, for example).</exception>
    public void Listen(EndPoint endpoint, int backlog = 511)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(backlog);
        ObjectDisposedException.ThrowIf(IsClosed, this);
        Poller.ThrowIfForeignThread();
        if (Socket is { } existing)
        {
            if (!existing.IsBound)
            {
                existing.Bind(endpoint);
            }

            existing.Listen(backlog);
            IsListening = true;
            Poller.EndDormancy(this);
            return;
        }

        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            AllowRebindDuringTimeWait(socket);

            socket.Bind(endpoint);
            socket.Listen(backlog);
            IsListening = true;
            SetSocket(socket);
        }
        catch
        {
            IsListening = false;
            socket.Dispose();
            throw;
        }
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

    /// <summary>A connection was accepted; the listener's owner now owns <paramref name="accepted"/>.</summary>
    protected abstract void HandleAccept(Socket accepted);

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
            catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionAborted)
            {
                continue; // the client gave up before we accepted: not the listener's failure
            }
            catch (Exception error)
            {
                BasePoller.RouteError(this, error);
                return;
            }

            try
            {
                HandleAccept(accepted);
            }
            catch (Exception error)
            {
                BasePoller.RouteError(this, error);
            }

            // Ask the kernel rather than pay for an exception at the end of every batch.
            if (RegistrationKey != key || !listening.Poll(0, SelectMode.SelectRead))
            {
                return;
            }
        }
    }
}
