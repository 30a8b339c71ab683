using System.Runtime.InteropServices;

namespace Pike.Reactor.Core;

internal static partial class Interop
{
    /// <summary>
    /// recvmsg, recvmmsg and sendto of the POSIX C library, for datagram sockets. The structs are
    /// laid out for 64-bit Linux and 64-bit BSD/macOS alike: where Linux has a <c>size_t</c>
    /// (<c>msg_iovlen</c>, <c>msg_controllen</c>) the BSDs have a 4-byte field followed by 4
    /// bytes of padding, at the same offsets.
    /// </summary>
    internal static partial class Libc
    {
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
