namespace Pike.Reactor.BSD;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // errno values below 35 agree on Linux, macOS, FreeBSD, OpenBSD and NetBSD.
        internal const int ENOENT = 2;
        internal const int EINTR = 4;
        internal const int EBADF = 9;
        internal const int EINVAL = 22;
        internal const int EPIPE = 32;
    }
}
