using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Tests;

/// <summary>What the process holds of the OS, and what the current thread has spent: for leak and no-spin tests.</summary>
public static partial class OsResources
{
    /// <summary>Open descriptors (Linux: /proc/self/fd) or handles (Windows: GetProcessHandleCount).</summary>
    public static int OpenHandles()
    {
        if (OperatingSystem.IsWindows())
        {
            return GetProcessHandleCount(GetCurrentProcess(), out uint count) ? (int)count : throw new InvalidOperationException("GetProcessHandleCount failed");
        }

        string dir = Directory.Exists("/proc/self/fd") ? "/proc/self/fd" : "/dev/fd";
        return Directory.GetFileSystemEntries(dir).Length;
    }

    /// <summary>CPU time the calling thread has used.</summary>
    public static TimeSpan ThreadCpuTime()
    {
        if (OperatingSystem.IsWindows())
        {
            GetThreadTimes(GetCurrentThread(), out _, out _, out long kernel, out long user);
            return TimeSpan.FromTicks(kernel + user);
        }

        const int CLOCK_THREAD_CPUTIME_ID = 3;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, out Timespec ts);
        return TimeSpan.FromTicks((ts.Seconds * TimeSpan.TicksPerSecond) + (ts.Nanoseconds / 100));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc.so.6")]
    private static partial int clock_gettime(int clock, out Timespec ts);

    [LibraryImport("kernel32.dll")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetProcessHandleCount(nint process, out uint count);

    [LibraryImport("kernel32.dll")]
    private static partial nint GetCurrentProcess();

    [LibraryImport("kernel32.dll")]
    private static partial nint GetCurrentThread();

    [LibraryImport("kernel32.dll")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetThreadTimes(nint thread, out long creation, out long exit, out long kernel, out long user);
}
