using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit;
using Libc = Pike.Reactor.Core.Interop.Libc;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// The recvmsg/recvmmsg structs against 64-bit Linux's (glibc's <c>struct msghdr</c>,
/// <c>struct mmsghdr</c>, <c>struct iovec</c>); the BSDs' 64-bit msghdr has its 4-byte fields
/// at the same offsets (docs/concepts.md, "Datagrams").
/// </summary>
[Trait("Lane", "linux")]
public class DatagramLayoutTests
{
    [Fact]
    public void The_iovec_is_16_bytes()
    {
        Assert.True(Environment.Is64BitProcess);
        Assert.Equal(16, Unsafe.SizeOf<Libc.IOVector>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Libc.IOVector>(nameof(Libc.IOVector.Length)));
    }

    [Fact]
    public void The_msghdr_is_56_bytes_with_glibcs_offsets()
    {
        Assert.Equal(56, Unsafe.SizeOf<Libc.MessageHeader>());
        Assert.Equal(0, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.Name)));
        Assert.Equal(8, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.NameLength)));
        Assert.Equal(16, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.Vectors)));
        Assert.Equal(24, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.VectorCount)));
        Assert.Equal(32, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.Control)));
        Assert.Equal(40, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.ControlLength)));
        Assert.Equal(48, (int)Marshal.OffsetOf<Libc.MessageHeader>(nameof(Libc.MessageHeader.Flags)));
    }

    [Fact]
    public void The_mmsghdr_is_64_bytes_with_the_length_after_the_msghdr()
    {
        Assert.Equal(64, Unsafe.SizeOf<Libc.MultiMessageHeader>());
        Assert.Equal(56, (int)Marshal.OffsetOf<Libc.MultiMessageHeader>(nameof(Libc.MultiMessageHeader.Length)));
    }
}
