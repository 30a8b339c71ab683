using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pike.Reactor.BSD;

/// <summary>
/// One <c>struct kevent</c> ABI: its size, field offsets and widths, the filter numbers, the
/// name the C library exports the call under and the width of its counts; and how to read and
/// write an entry in place. The poller keeps its buffers as bytes and goes through this, so
/// one code path serves every layout. The offsets are those of 64-bit processes, the only
/// ones the provider offers kqueue to.
/// </summary>
internal sealed class KeventAbi
{
    private KeventAbi(KeventAbiKind kind, int size, int dataOffset, int udataOffset, bool wideFilter, short read, short write, short user, string export, bool sizeTCounts)
    {
        Kind = kind;
        Size = size;
        DataOffset = dataOffset;
        UdataOffset = udataOffset;
        WideFilter = wideFilter;
        ReadFilter = read;
        WriteFilter = write;
        UserFilter = user;
        KeventExport = export;
        CountsAreSizeT = sizeTCounts;
    }

    public static KeventAbi LibKqueue { get; } = new(KeventAbiKind.LibKqueue, Unsafe.SizeOf<KeventOpenBsd>(), 16, 24, false, -1, -2, -11, "kevent", false);

    public static KeventAbi MacOS { get; } = new(KeventAbiKind.MacOS, Unsafe.SizeOf<KeventMacOS>(), 16, 24, false, -1, -2, -10, "kevent", false);

    public static KeventAbi FreeBsd { get; } = new(KeventAbiKind.FreeBsd, Unsafe.SizeOf<KeventFreeBsd>(), 16, 24, false, -1, -2, -11, "kevent", false);

    public static KeventAbi OpenBsd { get; } = new(KeventAbiKind.OpenBsd, Unsafe.SizeOf<KeventOpenBsd>(), 16, 24, false, -1, -2, -10, "kevent", false);

    public static KeventAbi NetBsd { get; } = new(KeventAbiKind.NetBsd, Unsafe.SizeOf<KeventNetBsd>(), 24, 32, true, 0, 1, 8, "__kevent50", true);

    public KeventAbiKind Kind { get; }

    /// <summary>Bytes per entry.</summary>
    public int Size { get; }

    public int DataOffset { get; }

    public int UdataOffset { get; }

    /// <summary>True where <c>filter</c> and <c>flags</c> are 32-bit (NetBSD).</summary>
    public bool WideFilter { get; }

    public short ReadFilter { get; }

    public short WriteFilter { get; }

    public short UserFilter { get; }

    /// <summary>The symbol the library exports the kevent call under.</summary>
    public string KeventExport { get; }

    /// <summary>True where nchanges and nevents are <c>size_t</c> (NetBSD) rather than <c>int</c>.</summary>
    public bool CountsAreSizeT { get; }

    /// <summary>The ABI of the OS this process runs on; libkqueue's anywhere that is not macOS or a BSD.</summary>
    public static KeventAbi Current { get; } = ForHost();

    public static KeventAbi For(KeventAbiKind kind) => kind switch
    {
        KeventAbiKind.MacOS => MacOS,
        KeventAbiKind.FreeBsd => FreeBsd,
        KeventAbiKind.OpenBsd => OpenBsd,
        KeventAbiKind.NetBsd => NetBsd,
        _ => LibKqueue,
    };

    public unsafe void Write(byte* slot, nuint ident, short filter, ushort flags, uint fflags, long data, nint udata)
    {
        new Span<byte>(slot, Size).Clear();
        Unsafe.WriteUnaligned(slot, ident);
        if (WideFilter)
        {
            // NetBSD: uint32_t filter (READ = 0, WRITE = 1, USER = 8), uint32_t flags.
            Unsafe.WriteUnaligned(slot + 8, (uint)(ushort)filter);
            Unsafe.WriteUnaligned(slot + 12, (uint)flags);
            Unsafe.WriteUnaligned(slot + 16, fflags);
        }
        else
        {
            Unsafe.WriteUnaligned(slot + 8, filter);
            Unsafe.WriteUnaligned(slot + 10, flags);
            Unsafe.WriteUnaligned(slot + 12, fflags);
        }

        Unsafe.WriteUnaligned(slot + DataOffset, data);
        Unsafe.WriteUnaligned(slot + UdataOffset, udata);
    }

    public static unsafe nuint ReadIdent(byte* slot) => Unsafe.ReadUnaligned<nuint>(slot);

    public unsafe short ReadFilterOf(byte* slot) =>
        WideFilter ? (short)Unsafe.ReadUnaligned<uint>(slot + 8) : Unsafe.ReadUnaligned<short>(slot + 8);

    public unsafe ushort ReadFlags(byte* slot) =>
        WideFilter ? (ushort)Unsafe.ReadUnaligned<uint>(slot + 12) : Unsafe.ReadUnaligned<ushort>(slot + 10);

    public unsafe uint ReadFflags(byte* slot) => Unsafe.ReadUnaligned<uint>(slot + (WideFilter ? 16 : 12));

    public unsafe long ReadData(byte* slot) => Unsafe.ReadUnaligned<long>(slot + DataOffset);

    public unsafe nint ReadUdata(byte* slot) => Unsafe.ReadUnaligned<nint>(slot + UdataOffset);

    private static KeventAbi ForHost()
    {
        if (OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS() || OperatingSystem.IsMacCatalyst())
        {
            return MacOS;
        }

        if (OperatingSystem.IsFreeBSD())
        {
            return FreeBsd;
        }

        if (RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD")))
        {
            return NetBsd;
        }

        if (RuntimeInformation.IsOSPlatform(OSPlatform.Create("OPENBSD")))
        {
            return OpenBsd;
        }

        return LibKqueue;
    }
}
