using System;
using System.Net.Sockets;

namespace Pike.Reactor.Core;

internal static partial class Interop
{
    /// <summary>
    /// The <see cref="SocketError"/> of a POSIX <c>errno</c> from a datagram call. The numbers
    /// are Linux's, or the ones 4.4BSD gave macOS, FreeBSD, OpenBSD and NetBSD alike; an errno
    /// not listed becomes <see cref="SocketError.SocketError"/> (its number stays in the message).
    /// </summary>
    internal static class SocketErrors
    {
        internal static bool IsLinux { get; } = OperatingSystem.IsLinux() || OperatingSystem.IsAndroid();

        internal static int WouldBlock => IsLinux ? 11 : 35;       // EAGAIN (= EWOULDBLOCK)

        internal const int Interrupted = 4;                        // EINTR

        internal static SocketError FromErrno(int errno) => IsLinux ? FromLinux(errno) : FromBsd(errno);

        private static SocketError FromLinux(int errno) => errno switch
        {
            1 or 13 => SocketError.AccessDenied,        // EPERM (a netfilter rule), EACCES
            4 => SocketError.Interrupted,
            9 or 88 => SocketError.NotSocket,           // EBADF, ENOTSOCK
            11 => SocketError.WouldBlock,
            12 or 105 => SocketError.NoBufferSpaceAvailable, // ENOMEM, ENOBUFS
            14 => SocketError.Fault,
            22 => SocketError.InvalidArgument,
            89 => SocketError.DestinationAddressRequired,
            90 => SocketError.MessageSize,
            97 => SocketError.AddressFamilyNotSupported,
            99 => SocketError.AddressNotAvailable,
            100 => SocketError.NetworkDown,
            101 => SocketError.NetworkUnreachable,
            104 => SocketError.ConnectionReset,
            107 => SocketError.NotConnected,
            111 => SocketError.ConnectionRefused,
            112 => SocketError.HostDown,
            113 => SocketError.HostUnreachable,
            _ => SocketError.SocketError,
        };

        private static SocketError FromBsd(int errno) => errno switch
        {
            1 or 13 => SocketError.AccessDenied,
            4 => SocketError.Interrupted,
            9 or 38 => SocketError.NotSocket,
            35 => SocketError.WouldBlock,
            12 or 55 => SocketError.NoBufferSpaceAvailable,
            14 => SocketError.Fault,
            22 => SocketError.InvalidArgument,
            39 => SocketError.DestinationAddressRequired,
            40 => SocketError.MessageSize,
            47 => SocketError.AddressFamilyNotSupported,
            49 => SocketError.AddressNotAvailable,
            50 => SocketError.NetworkDown,
            51 => SocketError.NetworkUnreachable,
            54 => SocketError.ConnectionReset,
            57 => SocketError.NotConnected,
            61 => SocketError.ConnectionRefused,
            64 => SocketError.HostDown,
            65 => SocketError.HostUnreachable,
            _ => SocketError.SocketError,
        };
    }
}
