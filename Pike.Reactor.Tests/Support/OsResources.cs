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
            if (!GetProcessHandleCount(GetCurrentProcess(), out uint count))
            {
                throw new InvalidOperationException("GetProcessHandleCount failed");
            }

            // Wine 8 answers 0 whatever is open; count the handle values that name an object instead.
            return count > 0 ? (int)count : CountOpenHandleValues();
        }

        string dir = Directory.Exists("/proc/self/fd") ? "/proc/self/fd" : "/dev/fd";
        return Directory.GetFileSystemEntries(dir).Length;
    }

    /// <summary>
    /// How many handles the runtime itself may open during a long test besides what the code
    /// under test holds: none on Linux (descriptors); on Windows the runtime's own threads and
    /// events show in the process handle count (a few per test under Wine 8, and 17 once after
    /// a four-loop group served a thousand connections). A leak per connection is far larger
    /// than this in the thousand-connection tests.
    /// </summary>
    public static int RuntimeHandleSlack => OperatingSystem.IsWindows() ? 32 : 0;

    /// <summary>
    /// Asserts that no more handles are open than <paramref name="before"/> (within <see cref="RuntimeHandleSlack"/>),
    /// waiting up to 2 s for handles the runtime is still letting go of (threads that are exiting).
    /// </summary>
    public static void AssertNoLeak(int before)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        int now = OpenHandles();
        while (now > before + RuntimeHandleSlack && deadline.Elapsed < TimeSpan.FromSeconds(2))
        {
            System.Threading.Thread.Sleep(50); // no GC here: a socket only a finalizer closes is a leak
            now = OpenHandles();
        }

        Xunit.Assert.True(now <= before + RuntimeHandleSlack, $"{now} handles open, {before} before (slack {RuntimeHandleSlack})");
    }

    /// <summary>Handle values (multiples of 4) for which GetHandleInformation succeeds, up to 2^18.</summary>
    private static int CountOpenHandleValues()
    {
        int open = 0;
        for (nint handle = 4; handle < (1 << 18); handle += 4)
        {
            if (GetHandleInformation(handle, out _))
            {
                open++;
            }
        }

        return open;
    }

    /// <summary>CPU time the calling thread has used (the loop thread, when called from it).</summary>
    /// <remarks>
    /// Windows: GetThreadTimes on a real handle of this thread (OpenThread). Wine 8 answers it
    /// from the thread's own /proc/PID/task/TID/stat, so it counts this thread only;
    /// CpuClockTests checks that against a spinning neighbour.
    /// </remarks>
    public static TimeSpan ThreadCpuTime()
    {
        if (OperatingSystem.IsWindows())
        {
            const uint THREAD_QUERY_LIMITED_INFORMATION = 0x0800;
            nint thread = OpenThread(THREAD_QUERY_LIMITED_INFORMATION, false, GetCurrentThreadId());
            if (thread == 0)
            {
                throw new InvalidOperationException($"OpenThread failed: {Marshal.GetLastPInvokeError()}");
            }

            try
            {
                if (!GetThreadTimes(thread, out _, out _, out long kernel, out long user))
                {
                    throw new InvalidOperationException($"GetThreadTimes failed: {Marshal.GetLastPInvokeError()}");
                }

                return TimeSpan.FromTicks(kernel + user);
            }
            finally
            {
                CloseHandle(thread);
            }
        }

        const int CLOCK_THREAD_CPUTIME_ID = 3;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, out Timespec ts);
        return TimeSpan.FromTicks((ts.Seconds * TimeSpan.TicksPerSecond) + (ts.Nanoseconds / 100));
    }

    /// <summary>CPU time every thread of the process has used (GetProcessTimes on Windows, getrusage on Unix).</summary>
    public static TimeSpan ProcessCpuTime() => Environment.CpuUsage.TotalTime;

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
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetHandleInformation(nint handle, out uint flags);

    [LibraryImport("kernel32.dll")]
    private static partial uint GetCurrentThreadId();

    [LibraryImport("kernel32.dll", SetLastError = true)]
    private static partial nint OpenThread(uint access, [MarshalAs(UnmanagedType.Bool)] bool inherit, uint threadId);

    [LibraryImport("kernel32.dll")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool CloseHandle(nint handle);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetThreadTimes(nint thread, out long creation, out long exit, out long kernel, out long user);
}
