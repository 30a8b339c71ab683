using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // The io_uring system calls have the same numbers on every architecture .NET runs on
        // Linux (they came after the unified numbering of Linux 5.1).
        internal const nint SYS_io_uring_setup = 425;
        internal const nint SYS_io_uring_enter = 426;
        internal const nint SYS_io_uring_register = 427;

        internal const int ENOSYS = 38;
        internal const int ENOMEM = 12;
        internal const int EINVAL = 22;
        internal const int EBUSY = 16;
        internal const int ETIME = 62;
        internal const int EALREADY = 114;
        internal const int ECANCELED = 125;

        internal const uint IORING_SETUP_CQSIZE = 1u << 3;
        internal const uint IORING_SETUP_CLAMP = 1u << 4;
        internal const uint IORING_SETUP_R_DISABLED = 1u << 6;
        internal const uint IORING_SETUP_SUBMIT_ALL = 1u << 7;
        internal const uint IORING_SETUP_COOP_TASKRUN = 1u << 8;
        internal const uint IORING_SETUP_SINGLE_ISSUER = 1u << 12;
        internal const uint IORING_SETUP_DEFER_TASKRUN = 1u << 13;

        internal const uint IORING_FEAT_SINGLE_MMAP = 1u << 0;
        internal const uint IORING_FEAT_NODROP = 1u << 1;
        internal const uint IORING_FEAT_POLL_32BITS = 1u << 6;
        internal const uint IORING_FEAT_EXT_ARG = 1u << 8;
        internal const uint IORING_FEAT_RSRC_TAGS = 1u << 10; // Linux 5.13, with multishot poll and poll updates
        internal const uint IORING_FEAT_MIN_TIMEOUT = 1u << 15; // Linux 6.12: io_uring_getevents_arg.min_wait_usec

        internal const uint IORING_ENTER_GETEVENTS = 1u << 0;
        internal const uint IORING_ENTER_EXT_ARG = 1u << 3;

        internal const long IORING_OFF_SQ_RING = 0;
        internal const long IORING_OFF_CQ_RING = 0x8000000;
        internal const long IORING_OFF_SQES = 0x10000000;

        internal const byte IORING_OP_NOP = 0;
        internal const byte IORING_OP_POLL_ADD = 6;
        internal const byte IORING_OP_POLL_REMOVE = 7;
        internal const byte IORING_OP_SEND = 26;
        internal const byte IORING_OP_RECV = 27;
        internal const byte IORING_OP_ASYNC_CANCEL = 14;
        internal const int ENOBUFS = 105;
        internal const byte IOSQE_BUFFER_SELECT = 1 << 5;
        internal const uint IORING_CQE_F_BUFFER = 1u << 0;
        internal const int IORING_CQE_BUFFER_SHIFT = 16;
        internal const uint IORING_REGISTER_PBUF_RING = 22; // Linux 5.19

        internal const uint MSG_DONTWAIT = 0x40;
        internal const uint MSG_NOSIGNAL = 0x4000;
        internal const uint MSG_WAITALL = 0x100;

        internal const byte IOSQE_CQE_SKIP_SUCCESS = 1 << 6;
        internal const uint IORING_FEAT_CQE_SKIP = 1u << 11; // Linux 5.17
        internal const uint IORING_SQ_CQ_OVERFLOW = 1u << 1;

        internal const int AF_UNIX = 1;
        internal const int SOCK_STREAM = 1;
        internal const int SOCK_CLOEXEC = 0x80000;
        internal const int SOL_SOCKET = 1;
        internal const int SO_SNDBUF = 7;

        internal const uint IORING_POLL_ADD_MULTI = 1u << 0;
        internal const uint IORING_POLL_UPDATE_EVENTS = 1u << 1;

        internal const uint IORING_CQE_F_MORE = 1u << 1;

        internal const uint IORING_REGISTER_PROBE = 8;
        internal const uint IORING_REGISTER_ENABLE_RINGS = 12;
        internal const ushort IO_URING_OP_SUPPORTED = 1;

        internal const int PROT_READ = 0x1;
        internal const int PROT_WRITE = 0x2;
        internal const int MAP_SHARED = 0x01;
        internal const int MAP_POPULATE = 0x8000;

        /// <summary><c>syscall(2)</c> with six integer arguments; io_uring has no libc wrapper.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        internal static partial nint syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int munmap(void* addr, nuint length);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int socketpair(int domain, int type, int protocol, int* sv);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int setsockopt(int fd, int level, int name, void* value, uint length);

        internal static unsafe int io_uring_setup(uint entries, IoUringParams* p) =>
            (int)syscall(SYS_io_uring_setup, (nint)entries, (nint)p, 0, 0, 0, 0);

        internal static unsafe int io_uring_enter(int fd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize) =>
            (int)syscall(SYS_io_uring_enter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, (nint)arg, (nint)argSize);

        internal static unsafe int io_uring_register(int fd, uint opcode, void* arg, uint count) =>
            (int)syscall(SYS_io_uring_register, fd, (nint)opcode, (nint)arg, (nint)count, 0, 0);
    }
}
