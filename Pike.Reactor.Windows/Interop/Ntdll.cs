using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

internal static partial class Interop
{
    /// <summary>The NT native calls behind the AFD poll (wepoll src/nt.h, mio src/sys/windows/afd.rs). They return an NTSTATUS, not a last error.</summary>
    internal static partial class Ntdll
    {
        internal const int STATUS_SUCCESS = 0;
        internal const int STATUS_PENDING = 0x103;
        internal const int STATUS_CANCELLED = unchecked((int)0xC0000120);
        internal const int STATUS_NOT_FOUND = unchecked((int)0xC0000225);

        internal const uint SYNCHRONIZE = 0x00100000;
        internal const uint FILE_SHARE_READ = 0x1;
        internal const uint FILE_SHARE_WRITE = 0x2;
        internal const uint FILE_OPEN = 1;

        /// <summary>(FILE_DEVICE_NETWORK &lt;&lt; 12) | (AFD_POLL &lt;&lt; 2) | METHOD_BUFFERED.</summary>
        internal const uint IOCTL_AFD_POLL = 0x00012024;

        internal const uint AFD_POLL_RECEIVE = 0x0001;
        internal const uint AFD_POLL_RECEIVE_EXPEDITED = 0x0002;
        internal const uint AFD_POLL_SEND = 0x0004;
        internal const uint AFD_POLL_DISCONNECT = 0x0008;
        internal const uint AFD_POLL_ABORT = 0x0010;
        internal const uint AFD_POLL_LOCAL_CLOSE = 0x0020;
        internal const uint AFD_POLL_CONNECT = 0x0040;
        internal const uint AFD_POLL_ACCEPT = 0x0080;
        internal const uint AFD_POLL_CONNECT_FAIL = 0x0100;

        /// <summary>NT_ERROR: severity bits 11.</summary>
        internal static bool IsError(int status) => ((uint)status >> 30) == 3;

        [LibraryImport(Libraries.Ntdll)]
        internal static unsafe partial int NtCreateFile(
            nint* fileHandle,
            uint desiredAccess,
            ObjectAttributes* objectAttributes,
            IoStatusBlock* ioStatusBlock,
            long* allocationSize,
            uint fileAttributes,
            uint shareAccess,
            uint createDisposition,
            uint createOptions,
            void* eaBuffer,
            uint eaLength);

        [LibraryImport(Libraries.Ntdll)]
        internal static unsafe partial int NtDeviceIoControlFile(
            nint fileHandle,
            nint eventHandle,
            nint apcRoutine,
            void* apcContext,
            IoStatusBlock* ioStatusBlock,
            uint ioControlCode,
            void* inputBuffer,
            uint inputBufferLength,
            void* outputBuffer,
            uint outputBufferLength);

        [LibraryImport(Libraries.Ntdll)]
        internal static unsafe partial int NtCancelIoFileEx(nint fileHandle, IoStatusBlock* ioRequestToCancel, IoStatusBlock* ioStatusBlock);

        [LibraryImport(Libraries.Ntdll)]
        internal static partial uint RtlNtStatusToDosError(int status);
    }
}
