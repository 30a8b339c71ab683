using System;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// A datagram (UDP) socket watched by a poller: <see cref="Transport.HandleRead"/> when
/// datagrams wait, <see cref="TryReceiveFrom(Span{byte}, SocketAddress, out int)"/> and
/// <see cref="TrySendTo"/> into and out of the caller's buffers, the peer's address in a
/// <see cref="SocketAddress"/> the caller keeps and reuses (no allocation per datagram).
/// </summary>
/// <remarks>
/// <para>Readiness, write interest and closing are a <see cref="Transport"/>'s: always watched
/// for reading (unless paused), for writing after a send that would block (or
/// <see cref="BasePoller.DeferWrite"/>) until the one <see cref="Transport.HandleWrite"/> that
/// follows. <see cref="Transport.Connect(EndPoint)"/> connects the socket to one peer
/// (<see cref="Transport.HandleConnect"/> follows from the loop); then
/// <see cref="TryReceive"/> and <see cref="TrySend"/> need no address and the system reports a
/// peer that refuses (an ICMP port unreachable) as <see cref="SocketError.ConnectionRefused"/>,
/// which reaches <see cref="Transport.HandleError"/> when it is thrown in a handler.</para>
/// <para>The stream calls <see cref="Transport.Recv"/> and <see cref="Transport.Write(ReadOnlySpan{byte})"/>
/// are refused on a datagram socket (a zero-length datagram is not an end of stream, and a
/// queue of bytes would join datagrams).</para>
/// </remarks>
public abstract class DatagramTransport : Transport
{
    private SocketError _batchError;     // met after a batch's first datagram: thrown by the next call
    private int _reportedSocketError;    // the SO_ERROR last thrown for an empty readiness (Wine keeps it)

    /// <summary>Creates a datagram transport for <paramref name="poller"/>, or for <see cref="PollerFactory.Default"/> when null.</summary>
    protected DatagramTransport(BasePoller? poller = null)
        : base(poller)
    {
    }

    /// <summary>The local end once bound (by <see cref="Bind"/>, or by the system at the first send or connect).</summary>
    public EndPoint? LocalEndPoint => IsClosed ? null : Socket?.LocalEndPoint;

    /// <summary>
    /// Binds the socket to <paramref name="local"/>, first creating a UDP socket of its family
    /// (and registering it) when the transport has none.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="local"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">The socket is not a datagram socket, is bound already (a send or connect binds it too), or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused the address (in use, not local); a socket this call created is removed again, so that another address can be tried.</exception>
    public void Bind(EndPoint local)
    {
        ArgumentNullException.ThrowIfNull(local);
        bool created = false;
        if (Socket is null)
        {
            CreateSocket(local.AddressFamily, SocketType.Dgram, local.AddressFamily == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Udp);
            created = true;
        }

        Socket socket = DatagramSocket();
        if (socket.IsBound)
        {
            throw new InvalidOperationException($"The socket is bound already (to {socket.LocalEndPoint}).");
        }

        try
        {
            socket.Bind(local);
        }
        catch when (created)
        {
            DiscardSocket(); // as before the call: no socket, and the transport still usable
            throw;
        }
    }

    /// <summary>
    /// Receives one waiting datagram into <paramref name="buffer"/> and its sender into
    /// <paramref name="from"/> (made once for the socket's family and reused). Returns false,
    /// and changes nothing, when none waits; a zero-length datagram is a true with
    /// <paramref name="length"/> 0. A datagram longer than the buffer is cut (the rest is gone;
    /// the overload with <c>truncated</c> says so).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="from"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="from"/> is too small for an address of the socket's family.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread (nothing is read).</exception>
    /// <exception cref="SocketException">The receive failed; on a connected socket, <see cref="SocketError.ConnectionRefused"/> when the peer's port refused an earlier datagram.</exception>
    public bool TryReceiveFrom(Span<byte> buffer, SocketAddress from, out int length) =>
        TryReceiveFrom(buffer, from, out length, out _);

    /// <summary>As <see cref="TryReceiveFrom(Span{byte}, SocketAddress, out int)"/>; <paramref name="truncated"/> is true when the datagram was longer than <paramref name="buffer"/>.</summary>
    /// <inheritdoc cref="TryReceiveFrom(Span{byte}, SocketAddress, out int)"/>
    public bool TryReceiveFrom(Span<byte> buffer, SocketAddress from, out int length, out bool truncated)
    {
        ArgumentNullException.ThrowIfNull(from);
        Socket socket = DatagramSocket();
        Span<byte> address = from.Buffer.Span;
        int needed = SocketAddress.GetMaximumAddressSize(socket.AddressFamily);
        if (address.Length < needed)
        {
            throw new ArgumentException($"The SocketAddress holds {address.Length} bytes; an address of the socket's family ({socket.AddressFamily}) needs {needed}. Make it with new SocketAddress({socket.AddressFamily}).", nameof(from));
        }

        if (!Receive(socket, buffer, address, out int addressLength, out length, out truncated))
        {
            return false;
        }

        from.Size = addressLength;
        return true;
    }

    /// <summary>
    /// Receives one waiting datagram of the connected peer into <paramref name="buffer"/>.
    /// Returns false when none waits; a datagram longer than the buffer is cut.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The receive failed: <see cref="SocketError.ConnectionRefused"/> when the peer's port refused an earlier datagram.</exception>
    public bool TryReceive(Span<byte> buffer, out int length) =>
        Receive(DatagramSocket(), buffer, default, out _, out length, out _);

    /// <summary>
    /// Receives as many waiting datagrams as <paramref name="batch"/> holds, with their senders,
    /// and returns how many (0 when none waits): on Linux with one <c>recvmmsg</c> call, elsewhere
    /// with one receive per datagram. An error met after the first datagram is thrown by the next
    /// call, so that the datagrams received before it are not lost.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="batch"/> is null.</exception>
    /// <exception cref="ArgumentException">The batch's addresses are too small for the socket's family (an IPv4 batch for an IPv6 socket).</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The receive failed before any datagram (as for <see cref="TryReceiveFrom(Span{byte}, SocketAddress, out int)"/>).</exception>
    public int ReceiveBatch(DatagramBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Socket socket = DatagramSocket();
        int needed = SocketAddress.GetMaximumAddressSize(socket.AddressFamily);
        if (batch.AddressSize < needed)
        {
            throw new ArgumentException($"The batch is for {batch.Family} senders; the socket is {socket.AddressFamily}.", nameof(batch));
        }

        batch.Clear();
        if (DatagramIo.HasBatchReceive)
        {
            ThrowPendingError(socket);
            SocketError error = DatagramIo.ReceiveMany(Fileno, batch, out int count);
            return error switch
            {
                SocketError.Success => count,
                SocketError.WouldBlock => 0,
                _ => throw new SocketException((int)error),
            };
        }

        for (int i = 0; i < batch.Capacity; i++)
        {
            SocketAddress address = batch.AddressSlot(i);
            bool received;
            int addressLength;
            int length;
            bool truncated;
            try
            {
                received = Receive(socket, batch.Room(i), address.Buffer.Span, out addressLength, out length, out truncated);
            }
            catch (SocketException error) when (i > 0)
            {
                _batchError = error.SocketErrorCode;
                break;
            }

            if (!received)
            {
                break;
            }

            address.Size = addressLength;
            batch.Store(i, length, truncated);
        }

        return batch.Count;
    }

    /// <summary>
    /// Sends <paramref name="datagram"/> to <paramref name="to"/>, whole. Returns false when
    /// the socket cannot take it now: nothing was sent, and a write is deferred, so that
    /// <see cref="Transport.HandleWrite"/> follows once it can.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="to"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The send failed (<see cref="SocketError.MessageSize"/>: larger than the system sends in one datagram).</exception>
    public bool TrySendTo(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        ArgumentNullException.ThrowIfNull(to);
        return Send(DatagramSocket(), datagram, to.Buffer.Span[..to.Size]);
    }

    /// <summary>Sends <paramref name="datagram"/> to the connected peer, whole; false (and a deferred write) as for <see cref="TrySendTo"/>.</summary>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The send failed: <see cref="SocketError.ConnectionRefused"/> when the peer's port refused an earlier datagram, <see cref="SocketError.DestinationAddressRequired"/> when not connected.</exception>
    public bool TrySend(ReadOnlySpan<byte> datagram) => Send(DatagramSocket(), datagram, default);

    /// <summary>Joins the IPv4 or IPv6 multicast <paramref name="group"/> on the interface the system picks for it.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="group"/> is not a multicast address.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused (a group of another family than the socket's, joined already).</exception>
    public void JoinMulticastGroup(IPAddress group) => ChangeMembership(group, null, 0, join: true);

    /// <summary>Leaves a multicast group joined by <see cref="JoinMulticastGroup(IPAddress)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="group"/> is not a multicast address.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused (the group was not joined so).</exception>
    public void LeaveMulticastGroup(IPAddress group) => ChangeMembership(group, null, 0, join: false);

    /// <summary>Joins the IPv4 or IPv6 multicast <paramref name="group"/> on the interface with index <paramref name="interfaceIndex"/> (0: the one the system picks).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="group"/> is not a multicast address.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interfaceIndex"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused (no such interface, a group of another family than the socket's, joined already).</exception>
    public void JoinMulticastGroup(IPAddress group, int interfaceIndex) =>
        ChangeMembership(group, null, interfaceIndex, join: true);

    /// <summary>Joins the IPv4 multicast <paramref name="group"/> on the interface whose address is <paramref name="localInterface"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> or <paramref name="localInterface"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="group"/> is not an IPv4 multicast address, or <paramref name="localInterface"/> not an IPv4 address (an IPv6 group is joined by interface index).</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused (no such interface, an IPv6 socket, joined already).</exception>
    public void JoinMulticastGroup(IPAddress group, IPAddress localInterface)
    {
        ArgumentNullException.ThrowIfNull(localInterface);
        ChangeMembership(group, localInterface, 0, join: true);
    }

    /// <summary>Leaves a multicast group joined by <see cref="JoinMulticastGroup(IPAddress, int)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="group"/> is not a multicast address.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interfaceIndex"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused (the group was not joined so).</exception>
    public void LeaveMulticastGroup(IPAddress group, int interfaceIndex) =>
        ChangeMembership(group, null, interfaceIndex, join: false);

    /// <summary>Leaves a multicast group joined by <see cref="JoinMulticastGroup(IPAddress, IPAddress)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> or <paramref name="localInterface"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="group"/> is not an IPv4 multicast address, or <paramref name="localInterface"/> not an IPv4 address.</exception>
    /// <exception cref="ObjectDisposedException">The transport is closed.</exception>
    /// <exception cref="InvalidOperationException">No socket, not a datagram socket, or the loop runs on another thread.</exception>
    /// <exception cref="SocketException">The system refused (the group was not joined so).</exception>
    public void LeaveMulticastGroup(IPAddress group, IPAddress localInterface)
    {
        ArgumentNullException.ThrowIfNull(localInterface);
        ChangeMembership(group, localInterface, 0, join: false);
    }

    private void ChangeMembership(IPAddress group, IPAddress? localInterface, int interfaceIndex, bool join)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfNegative(interfaceIndex);
        bool v4 = group.AddressFamily == AddressFamily.InterNetwork;
        if (!(v4 ? IsIPv4Multicast(group) : group.IsIPv6Multicast))
        {
            throw new ArgumentException($"{group} is not a multicast address.", nameof(group));
        }

        if (localInterface is not null && (!v4 || localInterface.AddressFamily != AddressFamily.InterNetwork))
        {
            throw new ArgumentException("An interface is named by its IPv4 address for an IPv4 group only; an IPv6 group is joined on an interface named by its index.", nameof(localInterface));
        }

        Socket socket = DatagramSocket();
        if (v4)
        {
            MulticastOption option = localInterface is not null ? new MulticastOption(group, localInterface) : new MulticastOption(group, interfaceIndex);
            socket.SetSocketOption(SocketOptionLevel.IP, join ? SocketOptionName.AddMembership : SocketOptionName.DropMembership, option);
        }
        else
        {
            socket.SetSocketOption(SocketOptionLevel.IPv6, join ? SocketOptionName.AddMembership : SocketOptionName.DropMembership, new IPv6MulticastOption(group, interfaceIndex));
        }
    }

    private static bool IsIPv4Multicast(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        return address.TryWriteBytes(bytes, out _) && bytes[0] >= 224 && bytes[0] <= 239;
    }

    private bool Receive(Socket socket, Span<byte> buffer, Span<byte> address, out int addressLength, out int length, out bool truncated)
    {
        ThrowPendingError(socket);
        while (true)
        {
            SocketError error = DatagramIo.Receive(Fileno, buffer, address, out addressLength, out length, out truncated);
            bool firstAfterReadiness = ReadDispatched;
            ReadDispatched = false;
            if (error == SocketError.Success)
            {
                _reportedSocketError = 0;
                return true;
            }

            if (error == SocketError.WouldBlock)
            {
                if (OperatingSystem.IsWindows() && firstAfterReadiness && socket.Connected)
                {
                    ThrowReportedError(socket);
                }

                return false;
            }

            if (OperatingSystem.IsWindows() && error is SocketError.ConnectionReset or SocketError.NetworkReset && !socket.Connected)
            {
                // Winsock reports an earlier send's port unreachable (or TTL expired) on any UDP
                // socket; POSIX only on a connected one. An unconnected socket reads on, as it
                // would there.
                continue;
            }

            throw new SocketException((int)PortableError(error));
        }
    }

    private bool Send(Socket socket, ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> address)
    {
        ThrowPendingError(socket);
        SocketError error = DatagramIo.Send(Fileno, datagram, address);
        for (int skipped = 0; OperatingSystem.IsWindows() && error is SocketError.ConnectionReset or SocketError.NetworkReset && !socket.Connected && skipped < 64; skipped++)
        {
            // As in Receive: each report was of an earlier datagram, and is consumed as it is
            // returned; a bounded number, so that a socket that keeps answering so still ends.
            error = DatagramIo.Send(Fileno, datagram, address);
        }

        NoteActivity();
        if (error == SocketError.Success)
        {
            _reportedSocketError = 0;
            return true;
        }

        if (error == SocketError.WouldBlock)
        {
            RequestWrite();
            return false;
        }

        throw new SocketException((int)PortableError(error));
    }

    /// <summary>
    /// Throws the error the poller learned from an event (and the kernel no longer holds), once.
    /// SO_ERROR is read as well, so that a system that still holds it (a BSD kernel, which
    /// reports without clearing) does not report the same refusal again at the next call.
    /// </summary>
    private void ThrowPendingError(Socket socket)
    {
        if (_batchError != SocketError.Success)
        {
            SocketError kept = _batchError;
            _batchError = SocketError.Success;
            throw new SocketException((int)kept);
        }

        SocketError pending = Poller.TakePendingError(this);
        if (pending == SocketError.Success)
        {
            return;
        }

        try
        {
            socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error);
        }
        catch (SocketException)
        {
            // The error is reported below either way.
        }

        throw new SocketException((int)PortableError(pending));
    }

    /// <summary>
    /// A connected socket was reported readable and holds no datagram: under Wine the refusal
    /// of an earlier datagram is kept in SO_ERROR (WSAECONNREFUSED) and never returned by
    /// recvfrom, and the readiness is all there is to say so. One getsockopt, only for such an
    /// empty readiness.
    /// </summary>
    private void ThrowReportedError(Socket socket)
    {
        int error;
        try
        {
            error = (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        }
        catch (SocketException)
        {
            return;
        }

        // Wine does not clear it as it is read: the same value is thrown once, until a datagram
        // passes again.
        if (error != 0 && error != _reportedSocketError)
        {
            _reportedSocketError = error;
            throw new SocketException((int)PortableError((SocketError)error));
        }
    }

    /// <summary>Winsock's WSAECONNRESET for a UDP socket is the port-unreachable that POSIX calls ECONNREFUSED.</summary>
    private static SocketError PortableError(SocketError error) =>
        error == SocketError.ConnectionReset ? SocketError.ConnectionRefused : error;

    private Socket DatagramSocket()
    {
        Socket socket = ActiveSocket();
        if (socket.SocketType != SocketType.Dgram)
        {
            throw new InvalidOperationException($"A DatagramTransport needs a datagram socket (SocketType.Dgram); this one is {socket.SocketType}.");
        }

        return socket;
    }
}
