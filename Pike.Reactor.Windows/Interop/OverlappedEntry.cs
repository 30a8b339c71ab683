using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary><c>OVERLAPPED_ENTRY</c> (32 bytes on 64-bit), what <c>GetQueuedCompletionStatusEx</c> fills.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct OverlappedEntry
{
    public nuint CompletionKey;
    public nint Overlapped;
    public nuint Internal;
    public uint NumberOfBytesTransferred;
}
