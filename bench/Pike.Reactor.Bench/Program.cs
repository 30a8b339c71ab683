using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Pike.Reactor.Bench;

/// <summary>
/// The Bench target: redis-server, the RESP sample on epoll, io_uring and poll (none spinning;
/// --with-spin adds epoll spinning 50 µs), and the async/await
/// baseline, started one after the other on free loopback ports, each driven by redis-benchmark
/// through the same cases, for several rounds with the server order rotating; then the table
/// (bench/results.md) and the chart of ratios to redis-server (bench/results.svg).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        int rounds = 5;
        double scale = 1.0;
        string? outDir = null;
        bool exhaustion = false;
        bool withSpin = false;
        bool loops = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--exhaustion":
                    exhaustion = true;
                    break;
                case "--with-spin":
                    withSpin = true;
                    break;
                case "--loops":
                    loops = true;
                    break;
                case "--rounds" when i + 1 < args.Length:
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    if (rounds < 1)
                    {
                        Console.Error.WriteLine("--rounds must be at least 1: a run of no rounds measures nothing");
                        return 2;
                    }

                    break;
                case "--scale" when i + 1 < args.Length:
                    scale = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--out" when i + 1 < args.Length:
                    outDir = args[++i];
                    break;
                default:
                    Console.Error.WriteLine("usage: Pike.Reactor.Bench [--rounds N] [--scale F] [--out DIR] [--with-spin | --loops] | --exhaustion");
                    return 2;
            }
        }

        if (exhaustion && (loops || withSpin))
        {
            Console.Error.WriteLine("--exhaustion runs alone: not with --loops or --with-spin.");
            return 2;
        }

        string here = AppContext.BaseDirectory;
        string sample = Path.Combine(here, "Pike.Reactor.RespServer.dll");
        if (exhaustion)
        {
            return ExhaustionProbe.Run(sample, Console.Out);
        }

        outDir ??= DefaultOutputDirectory();
        ulong limit = Native.RaiseDescriptorLimit(20_000);
        string baseline = Path.Combine(here, "Pike.Reactor.AsyncBaseline.dll");
        if (!here.Contains("/Release/", StringComparison.Ordinal))
        {
            Console.Error.WriteLine("warning: the harness (and so the servers) is not a Release build; figures will be low.");
        }

        ServerKind[] servers =
        [
            new("redis-server", "redis-server", ["--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--maxclients", "10000"]),
            new("pike-epoll", "dotnet", [sample, "--port", "{port}", "--poller", "epoll"]),
            new("pike-io_uring", "dotnet", [sample, "--port", "{port}", "--poller", "io_uring"]),
            new("pike-io_uring-batch50", "dotnet", [sample, "--port", "{port}", "--poller", "io_uring", "--wake-batching-us", "50"]),
            new("pike-poll", "dotnet", [sample, "--port", "{port}", "--poller", "poll"]),
            new("async-baseline", "dotnet", [baseline, "--port", "{port}"]),
        ];

        // The sample's default does not spin; a spinning run is an extra asked for by name.
        if (withSpin)
        {
            servers = [.. servers, new("pike-epoll-spin50", "dotnet", [sample, "--port", "{port}", "--poller", "epoll", "--spin-us", "50"])];
        }

        if (loops)
        {
            if (withSpin)
            {
                Console.Error.WriteLine("--loops measures the default (no spinning): --with-spin does not apply to it.");
                return 2;
            }

            return LoopScaling.Run(sample, rounds, scale, outDir);
        }

        int clients5k = limit >= 10_200 ? 5000 : (int)Math.Max(50, ((long)limit - 200) / 2);
        BenchCase[] cases =
        [
            new("PING_INLINE 1 client", "PING_INLINE", 1, 1, 3, Scaled(30_000, scale), true),
            new("PING_INLINE 50 clients", "PING_INLINE", 50, 1, 3, Scaled(200_000, scale), true),
            new("PING_INLINE 50 clients -P 16", "PING_INLINE", 50, 16, 3, Scaled(2_000_000, scale), true),

            // The same load from a client of two threads: one client thread is at 98-99 % of a
            // core pipelined 16 deep against every server here, so the case above measures the
            // client. Runs of several seconds: with threads redis-benchmark ends a run on a 250 ms tick.
            new("PING_INLINE 50 clients -P 16, 2 client threads", "PING_INLINE", 50, 16, 3, Scaled(6_000_000, scale), true, Threads: 2),
            new("SET 50 clients 1 KiB", "SET", 50, 1, 1024, Scaled(200_000, scale), false),
            new("GET 50 clients 1 KiB", "GET", 50, 1, 1024, Scaled(200_000, scale), false),
            new($"PING_INLINE {clients5k} clients", "PING_INLINE", clients5k, 1, 3, Scaled(200_000, scale), true),
        ];

        var environment = MachineDescription.Capture();
        Console.WriteLine($"bench: {rounds} rounds, {servers.Length} servers, {cases.Length} cases; descriptor limit {limit}; load {environment.LoadBefore}");
        var stopwatch = Stopwatch.StartNew();
        var measurements = new List<Measurement>();
        var allocations = new Dictionary<string, (double Ping, double Set, double Get)>();
        BenchmarkRunner.Rotate(servers, rounds, Scaled(100_000, scale), (server, process, round) =>
        {
            foreach (BenchCase benchCase in cases)
            {
                Measurement m = BenchmarkRunner.Run(benchCase, process, round, server.Label);
                measurements.Add(m);
                Console.WriteLine($"round {round} {server.Label,-15} {benchCase.Label,-32} {m.RequestsPerSecond,12:F0} req/s  p50 {m.P50Ms:F3} ms  p99 {m.P99Ms:F3} ms  cpu {m.CpuMicrosPerRequest:F2} us/req");
            }

            if (server.Label != "redis-server" && round == rounds)
            {
                double ping = AllocationProbe.BytesPerRequest(process.Port, "PING", "+PONG\r\n".Length, Scaled(160_000, scale));
                double set = AllocationProbe.BytesPerRequest(process.Port, "SET probe:key 0123456789abcdef", "+OK\r\n".Length, Scaled(160_000, scale));
                double get = AllocationProbe.BytesPerRequest(process.Port, "GET probe:key", "$16\r\n0123456789abcdef\r\n".Length, Scaled(160_000, scale));
                allocations[server.Label] = (ping, set, get);
                Console.WriteLine($"          {server.Label,-15} allocated per request: PING {ping:F3} B, SET {set:F3} B, GET {get:F3} B");
            }
        });

        environment.LoadAfter = MachineDescription.LoadAverage();
        string markdown = ResultReport.Markdown(environment, rounds, cases, servers.Select(s => s.Label).ToArray(), measurements, allocations, stopwatch.Elapsed, out bool targetsMet);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "results.md"), markdown);
        File.WriteAllText(Path.Combine(outDir, "results.svg"), ResultReport.Svg(cases, servers.Select(s => s.Label).ToArray(), measurements));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"wrote {Path.Combine(outDir, "results.md")} and results.svg in {stopwatch.Elapsed.TotalMinutes:F1} min; targets {(targetsMet ? "met" : "NOT met")}");
        return 0;
    }

    private static int Scaled(int requests, double scale) => Math.Max(1000, (int)(requests * scale));

    // bench/ of the checkout the harness was built from (it runs from bench/Pike.Reactor.Bench/bin/...).
    private static string DefaultOutputDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pike.sln")))
            {
                return Path.Combine(dir.FullName, "bench");
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
