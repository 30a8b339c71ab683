using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const short POLLIN = 0x001;
        internal const short POLLOUT = 0x004;
        internal const short POLLERR = 0x008;
        internal const short POLLHUP = 0x010;
        internal const short POLLNVAL = 0x020;
        internal const short POLLRDHUP = 0x2000;

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);
    }
}

/// <summary><c>struct pollfd</c>: the same 8 bytes on every Linux target.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}
