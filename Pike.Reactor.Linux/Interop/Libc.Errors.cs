namespace Pike.Reactor.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        // errno values shared by every Linux architecture .NET runs on.
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int EINTR = 4;
        internal const int EBADF = 9;
        internal const int EAGAIN = 11;
        internal const int EEXIST = 17;

        internal const int O_NONBLOCK = 0x800;
        internal const int O_CLOEXEC = 0x80000;
    }
}
