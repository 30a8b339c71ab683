using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

internal static partial class Interop
{
    /// <summary>The completion port calls and the handle bookkeeping the pollers and their tests use.</summary>
    internal static partial class Kernel32
    {
        internal const uint INFINITE = 0xFFFFFFFF;
        internal const int WAIT_TIMEOUT = 258;
        internal const byte FILE_SKIP_SET_EVENT_ON_HANDLE = 0x2;

        internal static readonly nint InvalidHandleValue = -1;

        [LibraryImport(Libraries.Kernel32, SetLastError = true)]
        internal static partial nint CreateIoCompletionPort(nint fileHandle, nint existingCompletionPort, nuint completionKey, uint numberOfConcurrentThreads);

        [LibraryImport(Libraries.Kernel32, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static unsafe partial bool GetQueuedCompletionStatusEx(
            nint completionPort,
            OverlappedEntry* completionPortEntries,
            uint count,
            uint* numEntriesRemoved,
            uint milliseconds,
            [MarshalAs(UnmanagedType.Bool)] bool alertable);

        [LibraryImport(Libraries.Kernel32, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static partial bool PostQueuedCompletionStatus(nint completionPort, uint numberOfBytesTransferred, nuint completionKey, nint overlapped);

        [LibraryImport(Libraries.Kernel32, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static partial bool SetFileCompletionNotificationModes(nint fileHandle, byte flags);

        [LibraryImport(Libraries.Kernel32, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static partial bool CloseHandle(nint handle);

        [LibraryImport(Libraries.Kernel32, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static partial bool GetProcessHandleCount(nint process, out uint handleCount);

        [LibraryImport(Libraries.Kernel32)]
        internal static partial nint GetCurrentProcess();
    }
}
