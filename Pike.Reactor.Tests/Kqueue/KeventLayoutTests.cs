using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pike.Reactor.BSD;
using Xunit;

namespace Pike.Reactor.Tests.Kqueue;

/// <summary>
/// Pins every <c>struct kevent</c> this assembly knows to the size and offsets of the C headers
/// (64-bit): macOS sys/event.h (pack 4), OpenBSD and libkqueue sys/event.h, FreeBSD 12+
/// sys/event.h (ext[4]), NetBSD sys/event.h as taken by __kevent50.
/// </summary>
[Trait("Lane", "kqueue")]
public class KeventLayoutTests
{
    // A registration key with a generation above 32 bits: slot 2, generation 1.
    private static readonly nint Udata = unchecked((nint)0x1_0000_0002L);

    [Fact]
    public void MacOS_kevent_is_32_bytes_packed_to_4()
    {
        Assert.Equal(32, Unsafe.SizeOf<KeventMacOS>());
        AssertOffsets<KeventMacOS>(ident: 0, filter: 8, flags: 10, fflags: 12, data: 16, udata: 24);
    }

    [Fact]
    public void OpenBSD_and_libkqueue_kevent_is_32_bytes()
    {
        Assert.Equal(32, Unsafe.SizeOf<KeventOpenBsd>());
        AssertOffsets<KeventOpenBsd>(ident: 0, filter: 8, flags: 10, fflags: 12, data: 16, udata: 24);
    }

    [Fact]
    public void FreeBSD_kevent_is_64_bytes_with_ext()
    {
        Assert.Equal(64, Unsafe.SizeOf<KeventFreeBsd>());
        AssertOffsets<KeventFreeBsd>(ident: 0, filter: 8, flags: 10, fflags: 12, data: 16, udata: 24);
        Assert.Equal(32, (int)Marshal.OffsetOf<KeventFreeBsd>(nameof(KeventFreeBsd.Ext)));
    }

    [Fact]
    public void NetBSD_kevent_is_40_bytes_with_32_bit_filter_and_flags()
    {
        Assert.Equal(40, Unsafe.SizeOf<KeventNetBsd>());
        AssertOffsets<KeventNetBsd>(ident: 0, filter: 8, flags: 12, fflags: 16, data: 24, udata: 32);
        Assert.Equal(4, Marshal.SizeOf<uint>());
    }

    [Fact]
    public void Timespec_is_16_bytes()
    {
        Assert.Equal(16, Unsafe.SizeOf<Timespec>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Timespec>(nameof(Timespec.Nanoseconds)));
    }

    [Theory]
    [InlineData((int)KeventAbiKind.LibKqueue, 32, -1, -2, -11, "kevent")]
    [InlineData((int)KeventAbiKind.MacOS, 32, -1, -2, -10, "kevent")]
    [InlineData((int)KeventAbiKind.FreeBsd, 64, -1, -2, -11, "kevent")]
    [InlineData((int)KeventAbiKind.OpenBsd, 32, -1, -2, -10, "kevent")]
    [InlineData((int)KeventAbiKind.NetBsd, 40, 0, 1, 8, "__kevent50")]
    public void Each_abi_has_its_size_filters_and_export(int kindNumber, int size, short read, short write, short user, string export)
    {
        var kind = (KeventAbiKind)kindNumber;
        KeventAbi abi = KeventAbi.For(kind);
        Assert.Equal(kind, abi.Kind);
        Assert.Equal(size, abi.Size);
        Assert.Equal(read, abi.ReadFilter);
        Assert.Equal(write, abi.WriteFilter);
        Assert.Equal(user, abi.UserFilter);
        Assert.Equal(export, abi.KeventExport);
        Assert.Equal(kind == KeventAbiKind.NetBsd, abi.CountsAreSizeT);
    }

    [Fact]
    public unsafe void Writes_land_where_each_struct_has_its_fields()
    {
        KeventMacOS mac = Roundtrip<KeventMacOS>(KeventAbi.MacOS);
        Assert.Equal((nuint)7, mac.Ident);
        Assert.Equal((short)-2, mac.Filter);
        Assert.Equal((ushort)0x8011, mac.Flags);
        Assert.Equal(0x01000000u, mac.Fflags);
        Assert.Equal((nint)12345, mac.Data);
        Assert.Equal(Udata, mac.Udata);

        KeventOpenBsd open = Roundtrip<KeventOpenBsd>(KeventAbi.OpenBsd);
        Assert.Equal((short)-2, open.Filter);
        Assert.Equal(12345L, open.Data);
        Assert.Equal(Udata, open.Udata);

        KeventFreeBsd free = Roundtrip<KeventFreeBsd>(KeventAbi.FreeBsd);
        Assert.Equal((ushort)0x8011, free.Flags);
        Assert.Equal(Udata, free.Udata);
        Assert.Equal(0ul, free.Ext[0] | free.Ext[1] | free.Ext[2] | free.Ext[3]);

        KeventNetBsd net = Roundtrip<KeventNetBsd>(KeventAbi.NetBsd);
        Assert.Equal(1u, net.Filter); // NetBSD's EVFILT_WRITE
        Assert.Equal(0x8011u, net.Flags);
        Assert.Equal(0x01000000u, net.Fflags);
        Assert.Equal(12345L, net.Data);
        Assert.Equal(Udata, net.Udata);
    }

    [Theory]
    [InlineData((int)KeventAbiKind.LibKqueue)]
    [InlineData((int)KeventAbiKind.MacOS)]
    [InlineData((int)KeventAbiKind.FreeBsd)]
    [InlineData((int)KeventAbiKind.OpenBsd)]
    [InlineData((int)KeventAbiKind.NetBsd)]
    public unsafe void Reads_return_what_was_written(int kindNumber)
    {
        KeventAbi abi = KeventAbi.For((KeventAbiKind)kindNumber);
        byte* slot = stackalloc byte[64];
        abi.Write(slot, 9, abi.UserFilter, 0x4021, 0xAB, -5, -1);
        Assert.Equal((nuint)9, KeventAbi.ReadIdent(slot));
        Assert.Equal(abi.UserFilter, abi.ReadFilterOf(slot));
        Assert.Equal((ushort)0x4021, abi.ReadFlags(slot));
        Assert.Equal(0xABu, abi.ReadFflags(slot));
        Assert.Equal(-5L, abi.ReadData(slot));
        Assert.Equal((nint)(-1), abi.ReadUdata(slot));
    }

    [Fact]
    public void The_host_abi_is_chosen_at_run_time()
    {
        KeventAbi expected = OperatingSystem.IsMacOS() ? KeventAbi.MacOS
            : OperatingSystem.IsFreeBSD() ? KeventAbi.FreeBsd
            : RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD")) ? KeventAbi.NetBsd
            : RuntimeInformation.IsOSPlatform(OSPlatform.Create("OPENBSD")) ? KeventAbi.OpenBsd
            : KeventAbi.LibKqueue; // Linux: libkqueue's ABI
        Assert.Same(expected, KeventAbi.Current);
    }

    private static unsafe T Roundtrip<T>(KeventAbi abi)
        where T : unmanaged
    {
        Assert.Equal(sizeof(T), abi.Size);
        T value = default;
        abi.Write((byte*)&value, 7, abi.WriteFilter, 0x8011, 0x01000000, 12345, Udata);
        return value;
    }

    private static void AssertOffsets<T>(int ident, int filter, int flags, int fflags, int data, int udata)
    {
        Assert.Equal(ident, (int)Marshal.OffsetOf<T>("Ident"));
        Assert.Equal(filter, (int)Marshal.OffsetOf<T>("Filter"));
        Assert.Equal(flags, (int)Marshal.OffsetOf<T>("Flags"));
        Assert.Equal(fflags, (int)Marshal.OffsetOf<T>("Fflags"));
        Assert.Equal(data, (int)Marshal.OffsetOf<T>("Data"));
        Assert.Equal(udata, (int)Marshal.OffsetOf<T>("Udata"));
    }
}
