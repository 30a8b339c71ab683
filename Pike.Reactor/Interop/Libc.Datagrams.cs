using System.Runtime.InteropServices;

namespace Pike.Reactor.Core;

internal static partial class Interop
{
    /// <summary>
    /// recvmsg, recvmmsg and sendto of the POSIX C library, for datagram sockets.
    /// <see cref="MessageHeader"/> is 64-bit Linux's <c>struct msghdr</c> (56 bytes). The
    /// 64-bit BSDs' and macOS's (48 bytes) agree up to <c>msg_control</c>: their
    /// <c>msg_iovlen</c> is an int at 24 (the upper half of ours stays 0), and then comes a
    /// 4-byte <c>msg_controllen</c> at 40 and <c>msg_flags</c> at 44
    /// (<see cref="BsdFlagsOffset"/>), which the 8-byte <see cref="MessageHeader.ControlLength"/>
    /// covers; the kernel reads and writes only its 48 bytes.
    /// </summary>
    internal static partial class Libc
    {
        /// <summary>Where macOS and the BSDs keep <c>msg_flags</c> in <see cref="MessageHeader"/>.</summary>
        internal const int BsdFlagsOffset = 44;

        /// <summary><c>struct iovec</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct IOVector
        {
            public void* Base;
            public nuint Length;
        }

        /// <summary><c>struct msghdr</c> (56 bytes on 64-bit systems).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct MessageHeader
        {
            public void* Name;
            public uint NameLength;
            public IOVector* Vectors;
            public nuint VectorCount;
            public void* Control;
            public nuint ControlLength;
            public int Flags;
        }

        /// <summary>Linux's <c>struct mmsghdr</c> (64 bytes on 64-bit Linux).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct MultiMessageHeader
        {
            public MessageHeader Header;
            public uint Length;
        }

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial nint recvmsg(int fd, MessageHeader* message, int flags);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int recvmmsg(int fd, MultiMessageHeader* messages, uint count, int flags, void* timeout);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial nint sendto(int fd, void* buffer, nuint length, int flags, void* address, uint addressLength);
    }
}
