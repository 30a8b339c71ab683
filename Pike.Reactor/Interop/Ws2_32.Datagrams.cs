using System.Runtime.InteropServices;

namespace Pike.Reactor.Core;

internal static partial class Interop
{
    /// <summary>Winsock's recvfrom and sendto, for datagram sockets; the error is WSAGetLastError (the thread's last error).</summary>
    internal static partial class Ws2_32
    {
        internal const int SOCKET_ERROR = -1;

        [LibraryImport(Libraries.Ws2_32, SetLastError = true)]
        internal static unsafe partial int recvfrom(nint socket, byte* buffer, int length, int flags, byte* from, int* fromLength);

        [LibraryImport(Libraries.Ws2_32, SetLastError = true)]
        internal static unsafe partial int sendto(nint socket, byte* buffer, int length, int flags, byte* to, int toLength);
    }
}
