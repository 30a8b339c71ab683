using System.Runtime.InteropServices;

namespace Pike.Reactor.BSD;

/// <summary>
/// <c>struct kevent</c> of macOS (sys/event.h declares it under <c>#pragma pack(4)</c>):
/// 32 bytes on 64-bit, <c>data</c> an <c>intptr_t</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct KeventMacOS
{
    public nuint Ident;
    public short Filter;
    public ushort Flags;
    public uint Fflags;
    public nint Data;
    public nint Udata;
}

/// <summary>
/// <c>struct kevent</c> of OpenBSD and of libkqueue (the ABI used on Linux): 32 bytes on
/// 64-bit; OpenBSD declares <c>data</c> as <c>int64_t</c>, libkqueue as <c>intptr_t</c>, the
/// same width on 64-bit.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KeventOpenBsd
{
    public nuint Ident;
    public short Filter;
    public ushort Flags;
    public uint Fflags;
    public long Data;
    public nint Udata;
}

/// <summary>
/// <c>struct kevent</c> of FreeBSD 12 and later (the default <c>kevent</c> symbol since the
/// ino64 change): 64 bytes, <c>data</c> an <c>int64_t</c>, then <c>uint64_t ext[4]</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KeventFreeBsd
{
    public nuint Ident;
    public short Filter;
    public ushort Flags;
    public uint Fflags;
    public long Data;
    public nint Udata;
    public fixed ulong Ext[4];
}

/// <summary>
/// <c>struct kevent</c> of NetBSD as taken by <c>__kevent50</c>: 40 bytes; <c>filter</c> and
/// <c>flags</c> are <c>uint32_t</c>, <c>data</c> an <c>int64_t</c> (aligned to 8, after 4 bytes
/// of padding). NetBSD 11 moved <c>kevent</c> to <c>__kevent100</c> with <c>ext[4]</c>; its libc
/// keeps <c>__kevent50</c> with this layout as the compatibility entry.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KeventNetBsd
{
    public nuint Ident;
    public uint Filter;
    public uint Flags;
    public uint Fflags;
    public long Data;
    public nint Udata;
}

/// <summary><c>struct timespec</c> on the 64-bit targets: <c>time_t</c> and <c>long</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long Seconds;
    public nint Nanoseconds;
}
