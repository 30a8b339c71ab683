using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Pike.Reactor.UdpBench;

/// <summary>
/// The UDP bench: a Pike.Reactor echo (batched receive, and one datagram per call) and the same
/// echo with .NET's ReceiveFromAsync/SendToAsync, each in a process of its own, driven in turn
/// by the same load for several rounds with the order rotating; then datagrams/s, the ratio to
/// the async echo, server CPU and bytes allocated per datagram (bench/udp-results.md).
/// </summary>
internal static class Program
{
    private static readonly string[] Servers = ["pike", "pike-single", "async"];

    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "--serve")
        {
            return Serve(args[1]);
        }

        int rounds = 5;
        double seconds = 5;
        int flows = 8;
        int window = 16;
        string? outDir = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Length:
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--seconds" when i + 1 < args.Length:
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--flows" when i + 1 < args.Length:
                    flows = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--window" when i + 1 < args.Length:
                    window = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--out" when i + 1 < args.Length:
                    outDir = args[++i];
                    break;
                default:
                    Console.Error.WriteLine("usage: Pike.Reactor.UdpBench [--rounds N] [--seconds S] [--flows F] [--window W] [--out DIR] | --serve pike|pike-single|async");
                    return 2;
            }
        }

        if (rounds < 1 || seconds <= 0 || flows < 1 || window < 1)
        {
            Console.Error.WriteLine("--rounds, --seconds, --flows and --window must be positive");
            return 2;
        }

        var results = new Dictionary<string, List<(double Rate, double CpuUs, double Bytes, long Refills)>>();
        foreach (string server in Servers)
        {
            results[server] = new();
        }

        string load = LoadAverage();
        Console.WriteLine($"udp-bench: {rounds} rounds of {seconds} s, {flows} flows x {window} in flight, 64-byte datagrams; {Environment.ProcessorCount} cores; load {load}");
        for (int round = 1; round <= rounds; round++)
        {
            for (int s = 0; s < Servers.Length; s++)
            {
                string server = Servers[(s + round - 1) % Servers.Length];
                var measured = Measure(server, seconds, flows, window);
                results[server].Add(measured);
                Console.WriteLine($"round {round} {server,-12} {measured.Rate,10:F0} datagrams/s  cpu {measured.CpuUs:F2} us/datagram  {measured.Bytes:F3} B/datagram  {measured.Refills} stall refills");
            }
        }

        string markdown = Report(results, rounds, seconds, flows, window, load, LoadAverage());
        outDir ??= DefaultOutputDirectory();
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "udp-results.md"), markdown);
        Console.WriteLine();
        Console.WriteLine(markdown);
        return 0;
    }

    private static (double Rate, double CpuUs, double Bytes, long Refills) Measure(string server, double seconds, int flows, int window)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add("--serve");
        start.ArgumentList.Add(server);
        using Process process = Process.Start(start)!;
        try
        {
            string line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"{server} ended before naming its port");
            var endpoint = new IPEndPoint(IPAddress.Loopback, int.Parse(line["port ".Length..], CultureInfo.InvariantCulture));
            using var load = new LoadClient(endpoint, flows, window);
            using var control = new ControlChannel(endpoint);
            Thread.Sleep(1000); // warm-up: JIT tiers, buffers, the queues' steady state
            control.Mark();
            long before = load.Echoes;
            long refillsBefore = load.Refills;
            var clock = Stopwatch.StartNew();
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
            long echoes = load.Echoes - before;
            double elapsed = clock.Elapsed.TotalSeconds;
            (long datagrams, long allocated, TimeSpan cpu) = control.Report();
            return (echoes / elapsed, cpu.TotalMicroseconds / Math.Max(1, datagrams), (double)allocated / Math.Max(1, datagrams), load.Refills - refillsBefore);
        }
        finally
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(5000))
            {
                process.Kill();
            }
        }
    }

    private static int Serve(string kind)
    {
        if (kind == "async")
        {
            (Socket socket, _) = AsyncEchoServer.Start();
            Console.WriteLine($"port {((IPEndPoint)socket.LocalEndPoint!).Port}");
            Console.In.ReadToEnd();
            socket.Dispose();
            return 0;
        }

        if (kind is not ("pike" or "pike-single"))
        {
            Console.Error.WriteLine($"unknown server {kind}");
            return 2;
        }

        using BasePoller poller = PollerFactory.Create();
        var echo = new PikeEchoServer(poller, batched: kind == "pike");
        Console.WriteLine($"port {((IPEndPoint)echo.LocalEndPoint!).Port}");
        var stdin = new Thread(() =>
        {
            Console.In.ReadToEnd();
            poller.Post(poller.Stop);
        }) { IsBackground = true };
        stdin.Start();
        poller.Loop();
        echo.Close();
        return 0;
    }

    private static string Report(Dictionary<string, List<(double Rate, double CpuUs, double Bytes, long Refills)>> results, int rounds, double seconds, int flows, int window, string loadBefore, string loadAfter)
    {
        double asyncRate = Median(results["async"].Select(r => r.Rate));
        var text = new StringBuilder();
        text.AppendLine("# UDP echo: Pike.Reactor against .NET's ReceiveFromAsync");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"`./build.sh --target=Bench-Udp`: {rounds} rounds of {seconds} s each, the servers' order rotating; {flows} connected flows x {window} datagrams of 64 bytes in flight, from one Pike.Reactor client loop. Medians; the ratio is to the async echo's median in the same run. {Environment.ProcessorCount} cores ({MachineModel()}); load average before {loadBefore}, after {loadAfter}.");
        text.AppendLine();
        text.AppendLine("| server | datagrams/s | ratio | server CPU per datagram | CPU ratio | allocated per datagram | stall refills (all rounds) |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        double asyncCpu = Median(results["async"].Select(r => r.CpuUs));
        foreach (string server in Servers)
        {
            double rate = Median(results[server].Select(r => r.Rate));
            text.AppendLine(CultureInfo.InvariantCulture, $"| {Describe(server)} | {rate:F0} | {rate / asyncRate:F2}x | {Median(results[server].Select(r => r.CpuUs)):F2} us | {asyncCpu / Median(results[server].Select(r => r.CpuUs)):F2}x | {Median(results[server].Select(r => r.Bytes)):F3} B | {results[server].Sum(r => r.Refills)} |");
        }

        text.AppendLine();
        text.AppendLine("The CPU ratio is the async echo's server CPU per datagram over this one's. A stall refill is a flow that heard no echo for a whole 50 ms tick and sent a new window (the old datagrams taken for lost); with none, the window stayed what was asked.");
        return text.ToString();
    }

    private static string Describe(string server) => server switch
    {
        "pike" => "Pike.Reactor, `ReceiveBatch` (recvmmsg, 64 a call) + `TrySendTo`",
        "pike-single" => "Pike.Reactor, `TryReceiveFrom` + `TrySendTo`",
        _ => ".NET `ReceiveFromAsync` + `SendToAsync` (SocketAddress overloads)",
    };

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string MachineModel()
    {
        if (File.Exists("/proc/cpuinfo"))
        {
            string? model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (model is not null)
            {
                return model[(model.IndexOf(':') + 1)..].Trim();
            }
        }

        return Environment.OSVersion.ToString();
    }

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
