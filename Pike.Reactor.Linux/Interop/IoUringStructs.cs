using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

// The io_uring structures of include/uapi/linux/io_uring.h, the same on every 64-bit target;
// IoUringLayoutTests pins their sizes and offsets.

/// <summary><c>struct io_uring_sqe</c>: one submission, 64 bytes (the fields a poll request uses).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    [FieldOffset(8)] public ulong Off;          // for POLL_REMOVE updates: the new user_data
    [FieldOffset(16)] public ulong Addr;        // for POLL_REMOVE and updates: the user_data of the request
    [FieldOffset(24)] public uint Len;          // for POLL_ADD: IORING_POLL_* flags
    [FieldOffset(28)] public uint Poll32Events;
    [FieldOffset(28)] public uint MsgFlags;     // for SEND: the flags of send(2) (the same word as poll32_events)
    [FieldOffset(32)] public ulong UserData;
    [FieldOffset(40)] public ushort BufIndex;
    [FieldOffset(42)] public ushort Personality;
    [FieldOffset(44)] public int SpliceFdIn;
    [FieldOffset(48)] public ulong Addr3;
    [FieldOffset(56)] public ulong Pad2;
}

/// <summary><c>struct io_uring_cqe</c>: one completion, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    public ulong UserData;
    public int Res;
    public uint Flags;
}

/// <summary><c>struct io_sqring_offsets</c>: where the submission ring's fields sit in its mapping, 40 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoSqringOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Flags;
    public uint Dropped;
    public uint Array;
    public uint Resv1;
    public ulong UserAddr;
}

/// <summary><c>struct io_cqring_offsets</c>: where the completion ring's fields sit in its mapping, 40 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoCqringOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Overflow;
    public uint Cqes;
    public uint Flags;
    public uint Resv1;
    public ulong UserAddr;
}

/// <summary><c>struct io_uring_params</c>: what io_uring_setup is asked for and answers, 120 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;
    public uint Features;
    public uint WqFd;
    public uint Resv0;
    public uint Resv1;
    public uint Resv2;
    public IoSqringOffsets SqOff;
    public IoCqringOffsets CqOff;
}

/// <summary><c>struct io_uring_getevents_arg</c>: the wait's timeout for IORING_ENTER_EXT_ARG, 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringGeteventsArg
{
    public ulong Sigmask;
    public uint SigmaskSize;
    public uint MinWaitUsec;
    public ulong Ts;            // a KernelTimespec*, 0 for none
}

/// <summary>
/// <c>struct io_uring_buf</c>: one buffer of a provided-buffer ring, 16 bytes. The ring's tail
/// is the <c>resv</c> field of its first entry (offset 14), so an entry is written field by
/// field, never whole.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringBuf
{
    public ulong Addr;
    public uint Len;
    public ushort Bid;
    public ushort Resv;
}

/// <summary><c>struct io_uring_buf_reg</c>: what IORING_REGISTER_PBUF_RING is given, 40 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringBufReg
{
    public ulong RingAddr;
    public uint RingEntries;
    public ushort Bgid;
    public ushort Flags;
    public ulong Resv0;
    public ulong Resv1;
    public ulong Resv2;
}

/// <summary><c>struct __kernel_timespec</c>: 16 bytes on every target.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KernelTimespec
{
    public long Seconds;
    public long Nanoseconds;
}

/// <summary><c>struct io_uring_probe</c>'s 16-byte header; <see cref="IoUringProbeOp"/> entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringProbeHeader
{
    public byte LastOp;
    public byte OpsLen;
    public ushort Resv;
    public uint Resv2a;
    public uint Resv2b;
    public uint Resv2c;
}

/// <summary><c>struct io_uring_probe_op</c>: 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringProbeOp
{
    public byte Op;
    public byte Resv;
    public ushort Flags;
    public uint Resv2;
}
