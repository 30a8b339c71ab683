using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// How many clients the process's descriptor limit leaves room for, as redis-server works it
/// out at start (config.c, adjustOpenFilesLimit): the soft RLIMIT_NOFILE, less the descriptors
/// already open (the runtime holds several dozen), less 32 kept for the server's own use.
/// </summary>
internal static partial class DescriptorBudget
{
    /// <summary>Descriptors kept free besides the clients (Redis's CONFIG_MIN_RESERVED_FDS).</summary>
    public const int Reserved = 32;

    /// <summary>The number of clients that fit, or null where the system has no per-process descriptor limit to read (Windows).</summary>
    public static int? ClientsThatFit(out long limit, out int open)
    {
        limit = 0;
        open = 0;
        if (OperatingSystem.IsWindows() || !Directory.Exists("/dev/fd"))
        {
            return null;
        }

        int resource = OperatingSystem.IsLinux() ? 7 : 8; // RLIMIT_NOFILE: 7 on Linux, 8 on macOS and the BSDs
        if (GetRLimit(resource, out RLimit current) != 0)
        {
            return null;
        }

        limit = (long)Math.Min(current.Soft, int.MaxValue);
        open = Directory.GetFileSystemEntries("/dev/fd").Length;
        return (int)Math.Max(1, limit - open - Reserved);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Soft;
        public ulong Hard;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);
}
