using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pike.Reactor.Linux;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>The io_uring structures as include/uapi/linux/io_uring.h lays them out (the same on every 64-bit target).</summary>
[Trait("Lane", "linux")]
public class IoUringLayoutTests
{
    [Fact]
    public void A_submission_entry_is_64_bytes_with_the_kernels_offsets()
    {
        Assert.Equal(64, Unsafe.SizeOf<IoUringSqe>());
        Assert.Equal(0, Offset<IoUringSqe>(nameof(IoUringSqe.Opcode)));
        Assert.Equal(1, Offset<IoUringSqe>(nameof(IoUringSqe.Flags)));
        Assert.Equal(2, Offset<IoUringSqe>(nameof(IoUringSqe.IoPrio)));
        Assert.Equal(4, Offset<IoUringSqe>(nameof(IoUringSqe.Fd)));
        Assert.Equal(8, Offset<IoUringSqe>(nameof(IoUringSqe.Off)));
        Assert.Equal(16, Offset<IoUringSqe>(nameof(IoUringSqe.Addr)));
        Assert.Equal(24, Offset<IoUringSqe>(nameof(IoUringSqe.Len)));
        Assert.Equal(28, Offset<IoUringSqe>(nameof(IoUringSqe.Poll32Events)));
        Assert.Equal(32, Offset<IoUringSqe>(nameof(IoUringSqe.UserData)));
        Assert.Equal(40, Offset<IoUringSqe>(nameof(IoUringSqe.BufIndex)));
        Assert.Equal(42, Offset<IoUringSqe>(nameof(IoUringSqe.Personality)));
        Assert.Equal(44, Offset<IoUringSqe>(nameof(IoUringSqe.SpliceFdIn)));
        Assert.Equal(48, Offset<IoUringSqe>(nameof(IoUringSqe.Addr3)));
    }

    [Fact]
    public void A_completion_entry_is_16_bytes()
    {
        Assert.Equal(16, Unsafe.SizeOf<IoUringCqe>());
        Assert.Equal(0, Offset<IoUringCqe>(nameof(IoUringCqe.UserData)));
        Assert.Equal(8, Offset<IoUringCqe>(nameof(IoUringCqe.Res)));
        Assert.Equal(12, Offset<IoUringCqe>(nameof(IoUringCqe.Flags)));
    }

    [Fact]
    public void The_setup_parameters_are_120_bytes_with_the_ring_offsets_at_40_and_80()
    {
        Assert.Equal(120, Unsafe.SizeOf<IoUringParams>());
        Assert.Equal(0, Offset<IoUringParams>(nameof(IoUringParams.SqEntries)));
        Assert.Equal(4, Offset<IoUringParams>(nameof(IoUringParams.CqEntries)));
        Assert.Equal(8, Offset<IoUringParams>(nameof(IoUringParams.Flags)));
        Assert.Equal(20, Offset<IoUringParams>(nameof(IoUringParams.Features)));
        Assert.Equal(24, Offset<IoUringParams>(nameof(IoUringParams.WqFd)));
        Assert.Equal(40, Offset<IoUringParams>(nameof(IoUringParams.SqOff)));
        Assert.Equal(80, Offset<IoUringParams>(nameof(IoUringParams.CqOff)));
    }

    [Fact]
    public void The_ring_offset_structs_are_40_bytes()
    {
        Assert.Equal(40, Unsafe.SizeOf<IoSqringOffsets>());
        Assert.Equal(0, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.Head)));
        Assert.Equal(4, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.Tail)));
        Assert.Equal(8, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.RingMask)));
        Assert.Equal(12, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.RingEntries)));
        Assert.Equal(16, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.Flags)));
        Assert.Equal(20, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.Dropped)));
        Assert.Equal(24, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.Array)));
        Assert.Equal(32, Offset<IoSqringOffsets>(nameof(IoSqringOffsets.UserAddr)));

        Assert.Equal(40, Unsafe.SizeOf<IoCqringOffsets>());
        Assert.Equal(0, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.Head)));
        Assert.Equal(4, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.Tail)));
        Assert.Equal(8, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.RingMask)));
        Assert.Equal(12, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.RingEntries)));
        Assert.Equal(16, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.Overflow)));
        Assert.Equal(20, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.Cqes)));
        Assert.Equal(24, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.Flags)));
        Assert.Equal(32, Offset<IoCqringOffsets>(nameof(IoCqringOffsets.UserAddr)));
    }

    [Fact]
    public void The_wait_argument_is_24_bytes_and_its_timespec_16()
    {
        Assert.Equal(24, Unsafe.SizeOf<IoUringGeteventsArg>());
        Assert.Equal(0, Offset<IoUringGeteventsArg>(nameof(IoUringGeteventsArg.Sigmask)));
        Assert.Equal(8, Offset<IoUringGeteventsArg>(nameof(IoUringGeteventsArg.SigmaskSize)));
        Assert.Equal(12, Offset<IoUringGeteventsArg>(nameof(IoUringGeteventsArg.MinWaitUsec)));
        Assert.Equal(16, Offset<IoUringGeteventsArg>(nameof(IoUringGeteventsArg.Ts)));
        Assert.Equal(16, Unsafe.SizeOf<KernelTimespec>());
        Assert.Equal(8, Offset<KernelTimespec>(nameof(KernelTimespec.Nanoseconds)));
    }

    [Fact]
    public void The_probe_header_is_16_bytes_and_each_operation_8()
    {
        Assert.Equal(16, Unsafe.SizeOf<IoUringProbeHeader>());
        Assert.Equal(1, Offset<IoUringProbeHeader>(nameof(IoUringProbeHeader.OpsLen)));
        Assert.Equal(8, Unsafe.SizeOf<IoUringProbeOp>());
        Assert.Equal(2, Offset<IoUringProbeOp>(nameof(IoUringProbeOp.Flags)));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
