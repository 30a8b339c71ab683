using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

internal static partial class Interop
{
    /// <summary>Winsock calls. Winsock's last error is the thread's last error, so SetLastError captures WSAGetLastError.</summary>
    internal static partial class Ws2_32
    {
        internal const int SOCKET_ERROR = -1;

        internal const uint SIO_BSP_HANDLE = 0x4800001B;
        internal const uint SIO_BSP_HANDLE_SELECT = 0x4800001C;
        internal const uint SIO_BSP_HANDLE_POLL = 0x4800001D;
        internal const uint SIO_BASE_HANDLE = 0x48000022;

        internal const int SOL_SOCKET = 0xFFFF;
        internal const int SO_ERROR = 0x1007;

        internal const short POLLERR = 0x0001;
        internal const short POLLHUP = 0x0002;
        internal const short POLLNVAL = 0x0004;
        internal const short POLLWRNORM = 0x0010;
        internal const short POLLRDNORM = 0x0100;

        [LibraryImport(Libraries.Ws2_32, SetLastError = true)]
        internal static unsafe partial int WSAIoctl(
            nint socket,
            uint ioControlCode,
            void* inBuffer,
            uint inBufferLength,
            void* outBuffer,
            uint outBufferLength,
            uint* bytesReturned,
            void* overlapped,
            nint completionRoutine);

        [LibraryImport(Libraries.Ws2_32, SetLastError = true)]
        internal static unsafe partial int WSAPoll(WsaPollFd* fds, uint count, int timeout);

        [LibraryImport(Libraries.Ws2_32, SetLastError = true)]
        internal static unsafe partial int getsockopt(nint socket, int level, int optionName, void* optionValue, int* optionLength);
    }
}
