using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary>
/// <c>AFD_POLL_INFO</c> with one <c>AFD_POLL_HANDLE_INFO</c> (32 bytes on 64-bit): the
/// undocumented input and output of <c>IOCTL_AFD_POLL</c>, as wepoll (src/afd.h) and mio
/// (src/sys/windows/afd.rs) declare it.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct AfdPollInfo
{
    public long Timeout;
    public uint NumberOfHandles;
    public uint Exclusive;
    public nint Handle;
    public uint Events;
    public int Status;
}
