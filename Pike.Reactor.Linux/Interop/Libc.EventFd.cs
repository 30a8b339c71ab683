using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int EFD_NONBLOCK = O_NONBLOCK;
        internal const int EFD_CLOEXEC = O_CLOEXEC;

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int eventfd(uint initval, int flags);
    }
}
