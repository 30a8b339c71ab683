using System;
using System.Globalization;
using System.IO;

namespace Pike.Reactor.RespServer.Tests.Support;

/// <summary>What Linux's /proc says of another process.</summary>
public static class ProcFs
{
    /// <summary>User and system CPU time (/proc/PID/stat fields 14 and 15, in ticks of 1/100 s).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    /// <summary>Open descriptors (/proc/PID/fd).</summary>
    public static int OpenDescriptors(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;
}
