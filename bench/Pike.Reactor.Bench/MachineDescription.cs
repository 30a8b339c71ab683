using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Bench;

/// <summary>What the figures were taken on: CPU, cores, OS, runtime, Redis, and how busy the machine was.</summary>
internal sealed class MachineDescription
{
    public string Cpu { get; private init; } = "unknown";

    public int Cores { get; private init; }

    public string Os { get; private init; } = "unknown";

    public string Runtime { get; private init; } = RuntimeInformation.FrameworkDescription;

    public string Redis { get; private init; } = "unknown";

    public string Date { get; private init; } = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);

    public string LoadBefore { get; private init; } = "";

    public string LoadAfter { get; set; } = "";

    public static MachineDescription Capture() => new()
    {
        Cpu = CpuModel(),
        Cores = Environment.ProcessorCount,
        Os = OsName(),
        Redis = FirstLine("redis-server", "--version"),
        LoadBefore = LoadAverage(),
    };

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string CpuModel()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string OsName()
    {
        try
        {
            string? line = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
            return (line?["PRETTY_NAME=".Length..].Trim('"') ?? RuntimeInformation.OSDescription) + ", kernel " + Environment.OSVersion.Version;
        }
        catch (IOException)
        {
            return RuntimeInformation.OSDescription;
        }
    }

    private static string FirstLine(string file, string args)
    {
        try
        {
            using Process process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
            string text = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return text.Split('\n')[0].Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not installed";
        }
    }
}
