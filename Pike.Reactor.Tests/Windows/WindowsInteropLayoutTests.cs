using System.Runtime.InteropServices;
using Pike.Reactor.Windows;
using Xunit;

namespace Pike.Reactor.Tests.Windows;

/// <summary>
/// The hand-written Win32/NT structs against the 64-bit Windows layouts (wepoll src/afd.h,
/// mio src/sys/windows/afd.rs, the SDK headers). Pure layout, but tagged for the lanes that run Windows code (Wine and the native Windows job).
/// </summary>
[Trait("Lane", "windows")]
public class WindowsInteropLayoutTests
{
    [Fact]
    public void Io_status_block_is_two_words()
    {
        Assert.Equal(16, Marshal.SizeOf<IoStatusBlock>());
        Assert.Equal(8, (int)Marshal.OffsetOf<IoStatusBlock>(nameof(IoStatusBlock.Information)));
    }

    [Fact]
    public void Afd_poll_info_with_one_handle_is_32_bytes()
    {
        Assert.Equal(32, Marshal.SizeOf<AfdPollInfo>());
        Assert.Equal(8, (int)Marshal.OffsetOf<AfdPollInfo>(nameof(AfdPollInfo.NumberOfHandles)));
        Assert.Equal(12, (int)Marshal.OffsetOf<AfdPollInfo>(nameof(AfdPollInfo.Exclusive)));
        Assert.Equal(16, (int)Marshal.OffsetOf<AfdPollInfo>(nameof(AfdPollInfo.Handle)));
        Assert.Equal(24, (int)Marshal.OffsetOf<AfdPollInfo>(nameof(AfdPollInfo.Events)));
        Assert.Equal(28, (int)Marshal.OffsetOf<AfdPollInfo>(nameof(AfdPollInfo.Status)));
    }

    [Fact]
    public void Overlapped_entry_is_32_bytes()
    {
        Assert.Equal(32, Marshal.SizeOf<OverlappedEntry>());
        Assert.Equal(8, (int)Marshal.OffsetOf<OverlappedEntry>(nameof(OverlappedEntry.Overlapped)));
        Assert.Equal(24, (int)Marshal.OffsetOf<OverlappedEntry>(nameof(OverlappedEntry.NumberOfBytesTransferred)));
    }

    [Fact]
    public void Wsapollfd_is_16_bytes()
    {
        Assert.Equal(16, Marshal.SizeOf<WsaPollFd>());
        Assert.Equal(8, (int)Marshal.OffsetOf<WsaPollFd>(nameof(WsaPollFd.Events)));
        Assert.Equal(10, (int)Marshal.OffsetOf<WsaPollFd>(nameof(WsaPollFd.REvents)));
    }

    [Fact]
    public void Object_attributes_and_unicode_string_match_the_sdk()
    {
        Assert.Equal(48, Marshal.SizeOf<ObjectAttributes>());
        Assert.Equal(16, (int)Marshal.OffsetOf<ObjectAttributes>(nameof(ObjectAttributes.ObjectName)));
        Assert.Equal(16, Marshal.SizeOf<UnicodeString>());
        Assert.Equal(8, (int)Marshal.OffsetOf<UnicodeString>(nameof(UnicodeString.Buffer)));
    }

    [Fact]
    public void Ioctl_afd_poll_is_built_from_its_parts()
    {
        const uint FileDeviceNetwork = 0x12;
        const uint AfdPoll = 9;
        const uint MethodBuffered = 0;
        Assert.Equal((FileDeviceNetwork << 12) | (AfdPoll << 2) | MethodBuffered, Interop.Ntdll.IOCTL_AFD_POLL);
    }

    [Fact]
    public void Poll_operation_starts_with_its_io_status_block()
    {
        // The completion's lpOverlapped is the IO_STATUS_BLOCK's address, cast back to the block.
        Assert.Equal(0, (int)Marshal.OffsetOf<PollOperation>(nameof(PollOperation.Iosb)));
    }
}
