using System.Runtime.InteropServices;

namespace Pike.Reactor.Tests.Linux;

/// <summary>The few libc calls the Linux tests make on their own, to set up what the reactor must cope with.</summary>
internal static partial class TestLibc
{
    private const string Libc = "libc.so.6";

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int dup(int fd);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int dup2(int oldfd, int newfd);

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string path, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    internal static unsafe partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    internal static unsafe partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    internal static unsafe partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport(Libc)]
    internal static partial int gettid();

    [LibraryImport(Libc)]
    internal static partial int getpid();

    [LibraryImport(Libc, SetLastError = true)]
    internal static partial int tgkill(int tgid, int tid, int sig);
}
