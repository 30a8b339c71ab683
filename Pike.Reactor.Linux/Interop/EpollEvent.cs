using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

/// <summary>
/// <c>struct epoll_event</c> on x86-64 and 32-bit x86, where the kernel declares it packed:
/// 12 bytes, <c>data</c> at offset 4.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEventPacked
{
    public uint Events;
    public ulong Data;
}

/// <summary>
/// <c>struct epoll_event</c> on arm64 and the other 64-bit targets: naturally aligned,
/// 16 bytes, <c>data</c> at offset 8.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct EpollEventAligned
{
    public uint Events;
    public ulong Data;
}
