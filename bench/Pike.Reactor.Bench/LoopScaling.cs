using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace Pike.Reactor.Bench;

/// <summary>
/// The Bench-Loops target: the RESP sample on epoll with 1, 2 and 4 loops (<c>--loops</c>)
/// and redis-server, driven by redis-benchmark with two threads of its own, rounds rotating;
/// writes bench/loops-results.md with the medians, the ratio to one loop and to redis-server.
/// </summary>
internal static class LoopScaling
{
    public static int Run(string sample, int rounds, double scale, string outDir)
    {
        ServerKind[] servers =
        [
            new("redis-server", "redis-server", ["--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"]),
            new("pike 1 loop", "dotnet", [sample, "--port", "{port}", "--poller", "epoll"]),
            new("pike 2 loops", "dotnet", [sample, "--port", "{port}", "--poller", "epoll", "--loops", "2"]),
            new("pike 4 loops", "dotnet", [sample, "--port", "{port}", "--poller", "epoll", "--loops", "4"]),
        ];
        // Runs of several seconds each: redis-benchmark with threads ends a run on a 250 ms tick,
        // so that a run of one second is measured to a quarter of its length.
        BenchCase[] cases =
        [
            new("PING_INLINE 50 clients -P 16", "PING_INLINE", 50, 16, 3, Scaled(6_000_000, scale), true, Threads: 2),
            new("PING_INLINE 50 clients", "PING_INLINE", 50, 1, 3, Scaled(500_000, scale), true, Threads: 2),
            new("SET 50 clients -P 16", "SET", 50, 16, 3, Scaled(4_000_000, scale), false, Threads: 2),
        ];

        var environment = MachineDescription.Capture();
        Console.WriteLine($"bench --loops: {rounds} rounds, {servers.Length} servers, {cases.Length} cases; {Environment.ProcessorCount} cores; load {environment.LoadBefore}");
        var measurements = new List<Measurement>();
        BenchmarkRunner.Rotate(servers, rounds, Scaled(100_000, scale), (server, process, round) =>
        {
            foreach (BenchCase benchCase in cases)
            {
                Measurement m = BenchmarkRunner.Run(benchCase, process, round, server.Label);
                measurements.Add(m);
                Console.WriteLine($"round {round} {server.Label,-13} {benchCase.Label,-30} {m.RequestsPerSecond,12:F0} req/s  cpu {m.CpuMicrosPerRequest:F2} us/req");
            }
        });

        environment.LoadAfter = MachineDescription.LoadAverage();
        var md = new StringBuilder();
        md.AppendLine("# One loop per core: the RESP sample with 1, 2 and 4 loops");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"`./build.sh --target=Bench-Loops`: redis-benchmark `--threads 2`, {rounds} rounds with the servers' order rotating, medians. {Environment.ProcessorCount} cores; load average before {environment.LoadBefore}, after {environment.LoadAfter}. The sample on epoll, not spinning; `--loops N` listens on N SO_REUSEPORT sockets, one loop thread each, over one store.");
        md.AppendLine();
        md.AppendLine("| case | server | requests/s | vs 1 loop | vs redis-server | server CPU per request |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: |");
        foreach (BenchCase c in cases)
        {
            double one = Median(measurements, "pike 1 loop", c.Label, m => m.RequestsPerSecond);
            double redis = Median(measurements, "redis-server", c.Label, m => m.RequestsPerSecond);
            foreach (ServerKind server in servers)
            {
                double rate = Median(measurements, server.Label, c.Label, m => m.RequestsPerSecond);
                double cpu = Median(measurements, server.Label, c.Label, m => m.CpuMicrosPerRequest);
                string vsOne = server.Label.StartsWith("pike", StringComparison.Ordinal) ? $"{rate / one:F2}x" : "";
                md.AppendLine(CultureInfo.InvariantCulture, $"| {c.Label} | {server.Label} | {rate:F0} | {vsOne} | {rate / redis:F2}x | {cpu:F2} us |");
            }
        }

        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "loops-results.md"), md.ToString());
        Console.WriteLine();
        Console.WriteLine(md.ToString());
        return 0;
    }

    private static double Median(List<Measurement> all, string server, string label, Func<Measurement, double> value)
    {
        double[] sorted = all.Where(m => m.Server == server && m.Case == label).Select(value).OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Scaled(int requests, double scale) => Math.Max(1000, (int)(requests * scale));
}
