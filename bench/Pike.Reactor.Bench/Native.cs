using System.Runtime.InteropServices;

namespace Pike.Reactor.Bench;

/// <summary>The two libc calls the harness needs: a graceful SIGTERM and a higher descriptor limit for 5,000 clients.</summary>
internal static partial class Native
{
    private const int SIGTERM = 15;
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);

    private const int _SC_CLK_TCK = 2;

    public static bool Terminate(int pid) => Kill(pid, SIGTERM) == 0;

    /// <summary>The unit of the CPU times in /proc/PID/stat.</summary>
    public static long ClockTicksPerSecond() => SysConf(_SC_CLK_TCK) is > 0 and var ticks ? ticks : 100;

    /// <summary>Raises the soft descriptor limit towards <paramref name="wanted"/> (children inherit it); returns what it is now.</summary>
    public static ulong RaiseDescriptorLimit(ulong wanted)
    {
        if (GetRLimit(RLIMIT_NOFILE, out RLimit limit) != 0)
        {
            return 0;
        }

        if (limit.Current < wanted)
        {
            var raised = new RLimit { Current = limit.Maximum < wanted ? limit.Maximum : wanted, Maximum = limit.Maximum };
            if (SetRLimit(RLIMIT_NOFILE, raised) == 0)
            {
                return raised.Current;
            }
        }

        return limit.Current;
    }
}
