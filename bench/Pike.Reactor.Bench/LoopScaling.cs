using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace Pike.Reactor.Bench;

/// <summary>
/// The Bench-Loops target: the RESP sample on epoll, on io_uring, and on io_uring with wake batching, with 1, 2 and 4 loops (<c>--loops</c>)
/// and redis-server, driven by redis-benchmark with two threads of its own, rounds rotating;
/// writes bench/loops-results.md with the medians, the ratio to one loop and to redis-server.
/// </summary>
internal static class LoopScaling
{
    // The wake batching window of the io_uring family: long enough that a loop sharing its core
    // with the load sleeps once per batch (bench/loops-results.md has the latency it costs).
    private const int BatchingMicroseconds = 1000;

    public static int Run(string sample, int rounds, double scale, string outDir)
    {
        // Each family of the sample once per loop count; "vs 1 loop" compares within a family. The
        // third runs on io_uring with wake batching, the opt-in that lets loops sharing their cores
        // with the load sleep once per batch instead of once per ready socket; the second is the
        // same poller without it, so that what batching does is told from what io_uring does.
        (string Family, string[] Options)[] families =
        [
            ("epoll", ["--poller", "epoll"]),
            ("io_uring", ["--poller", "io_uring"]),
            ($"io_uring, batching {BatchingMicroseconds} us", ["--poller", "io_uring", "--wake-batching-us", BatchingMicroseconds.ToString(CultureInfo.InvariantCulture)]),
        ];
        int[] loopCounts = [1, 2, 4];
        var servers = new List<ServerKind>
        {
            new("redis-server", "redis-server", ["--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"]),
        };
        foreach ((string family, string[] options) in families)
        {
            foreach (int loops in loopCounts)
            {
                string[] arguments = [sample, "--port", "{port}", .. options, .. loops > 1 ? new[] { "--loops", loops.ToString(CultureInfo.InvariantCulture) } : []];
                servers.Add(new(LoopLabel(family, loops), "dotnet", arguments));
            }
        }

        // Runs of several seconds each: redis-benchmark with threads ends a run on a 250 ms tick,
        // so that a run of one second is measured to a quarter of its length.
        BenchCase[] cases =
        [
            new("PING_INLINE 50 clients -P 16", "PING_INLINE", 50, 16, 3, Scaled(6_000_000, scale), true, Threads: 2),
            new("PING_INLINE 50 clients", "PING_INLINE", 50, 1, 3, Scaled(500_000, scale), true, Threads: 2),
            new("SET 50 clients -P 16", "SET", 50, 16, 3, Scaled(6_000_000, scale), false, Threads: 2),
        ];

        var environment = MachineDescription.Capture();
        Console.WriteLine($"bench --loops: {rounds} rounds, {servers.Count} servers, {cases.Length} cases; {Environment.ProcessorCount} cores; load {environment.LoadBefore}");
        var measurements = new List<Measurement>();
        BenchmarkRunner.Rotate([.. servers], rounds, Scaled(100_000, scale), (server, process, round) =>
        {
            foreach (BenchCase benchCase in cases)
            {
                Measurement m = BenchmarkRunner.Run(benchCase, process, round, server.Label);
                measurements.Add(m);
                Console.WriteLine($"round {round} {server.Label,-42} {benchCase.Label,-30} {m.RequestsPerSecond,12:F0} req/s  cpu {m.CpuMicrosPerRequest:F2} us/req");
            }
        });

        environment.LoadAfter = MachineDescription.LoadAverage();
        var md = new StringBuilder();
        md.AppendLine("# One loop per core: the RESP sample with 1, 2 and 4 loops");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"`./build.sh --target=Bench-Loops`: redis-benchmark `--threads 2`, {rounds} rounds with the servers' order rotating, medians. {Environment.ProcessorCount} cores; load average before {environment.LoadBefore}, after {environment.LoadAfter}. The sample not spinning, on epoll (its defaults), on io_uring, and on io_uring with `--wake-batching-us {BatchingMicroseconds}`; `--loops N` listens on N SO_REUSEPORT sockets, one loop thread each, over one store. \"vs 1 loop\" compares with the same form's one loop; p99 is redis-benchmark's. redis-benchmark with threads ends a run on a 250 ms tick: a run of 5-8 s is measured to 3-5 % of its rate, and equal rates in the table can be one tick apart.");
        md.AppendLine();
        md.AppendLine("| case | server | requests/s | vs 1 loop | vs 1 loop, per round | vs redis-server | p99 | server CPU per request |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (BenchCase c in cases)
        {
            double redis = Median(measurements, "redis-server", c.Label, m => m.RequestsPerSecond);
            md.AppendLine(CultureInfo.InvariantCulture, $"| {c.Label} | redis-server | {redis:F0} |  |  | 1.00x | {Median(measurements, "redis-server", c.Label, m => m.P99Ms):F2} ms | {Median(measurements, "redis-server", c.Label, m => m.CpuMicrosPerRequest):F2} us |");
            foreach ((string family, _) in families)
            {
                string oneLabel = LoopLabel(family, 1);
                double one = Median(measurements, oneLabel, c.Label, m => m.RequestsPerSecond);
                foreach (int loops in loopCounts)
                {
                    string label = LoopLabel(family, loops);
                    double rate = Median(measurements, label, c.Label, m => m.RequestsPerSecond);
                    double cpu = Median(measurements, label, c.Label, m => m.CpuMicrosPerRequest);
                    double p99 = Median(measurements, label, c.Label, m => m.P99Ms);
                    string range = loops == 1 ? "" : RoundRange(measurements, label, oneLabel, c.Label);
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {c.Label} | {label} | {rate:F0} | {rate / one:F2}x | {range} | {rate / redis:F2}x | {p99:F2} ms | {cpu:F2} us |");
                }
            }
        }

        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "loops-results.md"), md.ToString());
        Console.WriteLine();
        Console.WriteLine(md.ToString());
        return 0;
    }

    /// <summary>The lowest and highest ratio of <paramref name="server"/> to <paramref name="baseline"/> over the rounds, each round's pair measured in that round.</summary>
    private static string RoundRange(List<Measurement> all, string server, string baseline, string label)
    {
        double[] ratios = all.Where(m => m.Server == server && m.Case == label)
            .Join(all.Where(m => m.Server == baseline && m.Case == label), m => m.Round, m => m.Round, (a, b) => a.RequestsPerSecond / b.RequestsPerSecond)
            .ToArray();
        return ratios.Length == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{ratios.Min():F2}-{ratios.Max():F2}");
    }

    private static string LoopLabel(string family, int loops) => $"pike {family}, {loops} loop{(loops == 1 ? "" : "s")}";

    private static double Median(List<Measurement> all, string server, string label, Func<Measurement, double> value)
    {
        double[] sorted = all.Where(m => m.Server == server && m.Case == label).Select(value).OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Scaled(int requests, double scale) => Math.Max(1000, (int)(requests * scale));
}
