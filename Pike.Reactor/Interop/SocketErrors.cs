using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Core;

internal static partial class Interop
{
    /// <summary>
    /// The <see cref="SocketError"/> of a POSIX <c>errno</c> from a datagram call: EAGAIN (the
    /// hot path: the last receive of every drain) is told by its number, Linux's or the one
    /// 4.4BSD gave macOS and the BSDs; any other errno goes through the runtime's own mapping
    /// (the one <see cref="SocketException"/> uses), off the hot path.
    /// </summary>
    internal static class SocketErrors
    {
        internal static bool IsLinux { get; } = OperatingSystem.IsLinux() || OperatingSystem.IsAndroid();

        private static readonly int s_wouldBlock = IsLinux ? 11 : 35; // EAGAIN (= EWOULDBLOCK)

        internal const int Interrupted = 4;                           // EINTR

        internal static SocketError FromErrno(int errno)
        {
            if (errno == s_wouldBlock)
            {
                return SocketError.WouldBlock;
            }

            Marshal.SetLastPInvokeError(errno);
            return new SocketException().SocketErrorCode;
        }
    }
}
