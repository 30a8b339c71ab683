using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pike.Reactor.Linux;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

[Trait("Lane", "linux")]
public class EpollLayoutTests
{
    [Fact]
    public void The_packed_layout_is_12_bytes_with_data_at_offset_4()
    {
        Assert.Equal(12, Unsafe.SizeOf<EpollEventPacked>());
        Assert.Equal(0, (int)Marshal.OffsetOf<EpollEventPacked>(nameof(EpollEventPacked.Events)));
        Assert.Equal(4, (int)Marshal.OffsetOf<EpollEventPacked>(nameof(EpollEventPacked.Data)));
    }

    [Fact]
    public void The_aligned_layout_is_16_bytes_with_data_at_offset_8()
    {
        Assert.Equal(16, Unsafe.SizeOf<EpollEventAligned>());
        Assert.Equal(0, (int)Marshal.OffsetOf<EpollEventAligned>(nameof(EpollEventAligned.Events)));
        Assert.Equal(8, (int)Marshal.OffsetOf<EpollEventAligned>(nameof(EpollEventAligned.Data)));
    }

    [Theory]
    [InlineData(Architecture.X64, true, 12, 4)]
    [InlineData(Architecture.X86, true, 12, 4)]
    [InlineData(Architecture.Arm64, false, 16, 8)]
    [InlineData(Architecture.Arm, false, 16, 8)]
    [InlineData(Architecture.RiscV64, false, 16, 8)]
    [InlineData(Architecture.LoongArch64, false, 16, 8)]
    public void Each_architecture_gets_the_kernels_layout(Architecture architecture, bool packed, int size, int dataOffset)
    {
        EpollAbi abi = EpollAbi.For(architecture);
        Assert.Equal(packed, abi.IsPacked);
        Assert.Equal(size, abi.Size);
        Assert.Equal(dataOffset, abi.DataOffset);
    }

    [Fact]
    public unsafe void Writing_and_reading_an_event_round_trips_at_the_right_offsets()
    {
        EpollAbi abi = EpollAbi.For(Architecture.X64);
        byte* slot = stackalloc byte[16];
        abi.Write(slot, 0x2005, 0x1122334455667788);
        Assert.Equal(0x2005u, EpollAbi.ReadEvents(slot));
        Assert.Equal(0x1122334455667788ul, abi.ReadData(slot));
        Assert.Equal(0x88, slot[4]);

        EpollAbi aligned = EpollAbi.For(Architecture.Arm64);
        aligned.Write(slot, 1, 0x1122334455667788);
        Assert.Equal(0x88, slot[8]);
    }

    [Fact]
    public void A_pollfd_is_8_bytes()
    {
        Assert.Equal(8, Unsafe.SizeOf<PollFd>());
        Assert.Equal(4, (int)Marshal.OffsetOf<PollFd>(nameof(PollFd.Events)));
        Assert.Equal(6, (int)Marshal.OffsetOf<PollFd>(nameof(PollFd.Revents)));
    }
}
