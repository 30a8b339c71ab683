using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;

namespace Pike.Reactor.Bench;

/// <summary>Runs redis-benchmark for one case against one port and reads its CSV line.</summary>
internal static class BenchmarkRunner
{
    public static Measurement Run(BenchCase benchCase, ServerProcess process, int round, string server)
    {
        int port = process.Port;
        double cpuBefore = process.CpuSeconds();
        string output = RedisBenchmark(port, benchCase.Test, benchCase.Clients, benchCase.Pipeline, benchCase.DataSize, benchCase.Requests, csv: true, benchCase.Threads);
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
            string[] fields = line.Split(',');
            if (fields.Length >= 7 && fields[0].Trim('"').Equals(benchCase.Test, StringComparison.OrdinalIgnoreCase))
            {
                double cpu = process.CpuSeconds() - cpuBefore;
                return new Measurement(round, server, benchCase.Label, Number(fields[1]), Number(fields[4]), Number(fields[6]), cpu * 1e6 / benchCase.Requests);
            }
        }

        throw new InvalidOperationException($"redis-benchmark printed no result for {benchCase.Test} against {server}:\n{output}");
    }

    /// <summary>
    /// Every server once a round, the order rotating by one each round: each is started, warmed
    /// up with <paramref name="warmUpRequests"/> PINGs and handed to <paramref name="measure"/>
    /// (with the round), then stopped.
    /// </summary>
    public static void Rotate(ServerKind[] servers, int rounds, int warmUpRequests, Action<ServerKind, ServerProcess, int> measure)
    {
        for (int round = 1; round <= rounds; round++)
        {
            for (int s = 0; s < servers.Length; s++)
            {
                ServerKind server = servers[(s + round - 1) % servers.Length];
                using ServerProcess process = ServerProcess.Start(server);
                WarmUp(process.Port, warmUpRequests);
                measure(server, process, round);
            }
        }
    }

    /// <summary>A run whose figures are not kept: JIT tiering and the keys GET needs.</summary>
    public static void WarmUp(int port, int requests)
    {
        RedisBenchmark(port, "ping_inline,set,get", 50, 1, 1024, requests, csv: false);
    }

    private static double Number(string field) => double.Parse(field.Trim('"'), CultureInfo.InvariantCulture);

    private static string RedisBenchmark(int port, string tests, int clients, int pipeline, int dataSize, int requests, bool csv, int threads = 1)
    {
        var start = new ProcessStartInfo("redis-benchmark")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var args = new List<string>
        {
            "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture),
            "-t", tests,
            "-c", clients.ToString(CultureInfo.InvariantCulture),
            "-n", requests.ToString(CultureInfo.InvariantCulture),
            "-d", dataSize.ToString(CultureInfo.InvariantCulture),
            "-P", pipeline.ToString(CultureInfo.InvariantCulture),
        };
        if (threads > 1)
        {
            args.Add("--threads");
            args.Add(threads.ToString(CultureInfo.InvariantCulture));
        }

        args.Add(csv ? "--csv" : "-q");
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-benchmark");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(180_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"redis-benchmark {tests} -c {clients} ran over 180 s");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-benchmark exited with {process.ExitCode}: {stderr.Result}");
        }

        return stdout.Result;
    }
}
