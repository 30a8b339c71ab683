using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int EPOLL_CLOEXEC = O_CLOEXEC;
        internal const int EPOLL_CTL_ADD = 1;
        internal const int EPOLL_CTL_DEL = 2;
        internal const int EPOLL_CTL_MOD = 3;

        internal const uint EPOLLIN = 0x001;
        internal const uint EPOLLOUT = 0x004;
        internal const uint EPOLLERR = 0x008;
        internal const uint EPOLLHUP = 0x010;
        internal const uint EPOLLRDHUP = 0x2000;

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int epoll_create1(int flags);

        /// <param name="epfd">The epoll instance.</param>
        /// <param name="op">EPOLL_CTL_ADD, EPOLL_CTL_MOD or EPOLL_CTL_DEL.</param>
        /// <param name="fd">The descriptor being registered, changed or removed.</param>
        /// <param name="ev">An <see cref="EpollEventPacked"/> or <see cref="EpollEventAligned"/>, as <see cref="EpollAbi"/> says.</param>
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int epoll_ctl(int epfd, int op, int fd, void* ev);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int epoll_wait(int epfd, void* events, int maxevents, int timeout);
    }
}
