using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Pike.Reactor.Bench;

/// <summary>The table (median of the rounds, ratios to redis-server and to the async baseline) and the SVG chart of ratios.</summary>
internal static class ResultReport
{
    private const string Redis = "redis-server";
    private const string Pike = "pike-epoll";
    private const string Async = "async-baseline";

    private static readonly string[] Colors = ["#8c8c8c", "#1f77b4", "#2ca02c", "#9ecae1", "#ff7f0e", "#6baed6"];

    public static string Markdown(
        MachineDescription machine,
        int rounds,
        IReadOnlyList<BenchCase> cases,
        IReadOnlyList<string> servers,
        IReadOnlyList<Measurement> measurements,
        IReadOnlyDictionary<string, (double Ping, double Set, double Get)> allocations,
        TimeSpan elapsed,
        out bool targetsMet)
    {
        var md = new StringBuilder();
        md.AppendLine("# RESP server benchmark");
        md.AppendLine();
        md.AppendLine(Invariant($"Taken {machine.Date} on {machine.Cpu}, {machine.Cores} cores, {machine.Os}; {machine.Runtime}; {machine.Redis}."));
        md.AppendLine(Invariant($"Load average before {machine.LoadBefore}, after {machine.LoadAfter}. {rounds} rounds, servers started one after the other on free loopback ports (order rotating each round), each warmed up, then driven by `redis-benchmark`; figures are the median of the rounds; the whole run took {elapsed.TotalMinutes:F1} min."));
        md.AppendLine();
        md.AppendLine("`server CPU µs/req` is the user + system time the server process used during the case (from /proc/PID/stat) divided by its requests: unlike requests/s it hardly moves when other load shares the machine.");
        md.AppendLine();
        md.AppendLine("| case | server | requests/s | p50 ms | p99 ms | server CPU µs/req | × redis-server | pike-epoll × this |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (BenchCase c in cases)
        {
            double redis = Median(measurements, Redis, c.Label, m => m.RequestsPerSecond);
            double pike = Median(measurements, Pike, c.Label, m => m.RequestsPerSecond);
            foreach (string server in servers)
            {
                double rps = Median(measurements, server, c.Label, m => m.RequestsPerSecond);
                double p50 = Median(measurements, server, c.Label, m => m.P50Ms);
                double p99 = Median(measurements, server, c.Label, m => m.P99Ms);
                double cpu = Median(measurements, server, c.Label, m => m.CpuMicrosPerRequest);
                string vsPike = server == Pike ? "" : Invariant($"{pike / rps:F2}");
                md.AppendLine(Invariant($"| {c.Label} | {server} | {rps:F0} | {p50:F3} | {p99:F3} | {cpu:F2} | {rps / redis:F2} | {vsPike} |"));
            }
        }

        md.AppendLine();
        md.AppendLine("Targets (pike-epoll): at least 1.0× redis-server on every PING case, 0.9× on SET/GET, 1.3× the async baseline on every case.");
        md.AppendLine();
        md.AppendLine("| case | pike-epoll × redis | needed | pike-epoll × async | needed | met |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | --- |");
        targetsMet = true;
        foreach (BenchCase c in cases)
        {
            double redis = Median(measurements, Redis, c.Label, m => m.RequestsPerSecond);
            double pike = Median(measurements, Pike, c.Label, m => m.RequestsPerSecond);
            double async = Median(measurements, Async, c.Label, m => m.RequestsPerSecond);
            double needRedis = c.IsPing ? 1.0 : 0.9;
            bool met = pike / redis >= needRedis && pike / async >= 1.3;
            targetsMet &= met;
            md.AppendLine(Invariant($"| {c.Label} | {pike / redis:F2} | {needRedis:F1} | {pike / async:F2} | 1.3 | {(met ? "yes" : "**no**")} |"));
        }

        md.AppendLine();
        md.AppendLine("Targets of io_uring without spinning: at least 1.0× redis-server on every case but the 5,000-client one, 1.1× on PING pipelined 16; epoll at least 1.0× on every PING case. `pike-io_uring` is the default; `pike-io_uring-batch50` is the opt-in `--wake-batching-us 50`.");
        md.AppendLine();
        md.AppendLine("| case | server | × redis (median) | rounds min–max | needed | met |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | --- |");
        foreach (BenchCase c in cases.Where(c => c.Clients <= 50))
        {
            foreach (string server in new[] { Pike, "pike-io_uring", "pike-io_uring-batch50" }.Where(servers.Contains))
            {
                if (server == Pike && !c.IsPing)
                {
                    continue;
                }

                double ratio = Median(measurements, server, c.Label, m => m.RequestsPerSecond) / Median(measurements, Redis, c.Label, m => m.RequestsPerSecond);
                var perRound = measurements.Where(m => m.Server == server && m.Case == c.Label)
                    .Select(m => m.RequestsPerSecond / measurements.First(r => r.Server == Redis && r.Case == c.Label && r.Round == m.Round).RequestsPerSecond).ToList();
                double need = server != Pike && c.Pipeline == 16 ? 1.1 : 1.0;
                md.AppendLine(Invariant($"| {c.Label} | {server} | {ratio:F2} | {perRound.Min():F2}–{perRound.Max():F2} | {need:F1} | {(ratio >= need ? "yes" : "**no**")} |"));
            }
        }

        md.AppendLine();
        md.AppendLine("Bytes allocated per request in steady state, from each server's own counter (INFO `pike_allocated_bytes`: the loop thread's `GC.GetAllocatedBytesForCurrentThread` for the reactor, the process's precise `GC.GetTotalAllocatedBytes` for the async baseline), over 160,000 requests on one warmed-up connection, pipelined 16 deep:");
        md.AppendLine();
        md.AppendLine("| server | PING | SET (existing key, same size) | GET |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        foreach ((string server, (double ping, double set, double get)) in allocations.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            md.AppendLine(Invariant($"| {server} | {ping:F3} | {set:F3} | {get:F3} |"));
        }

        md.AppendLine();
        md.AppendLine("![requests/s relative to redis-server](results.svg)");
        md.AppendLine();
        md.AppendLine("Every round:");
        md.AppendLine();
        md.AppendLine("| round | server | case | requests/s | p50 ms | p99 ms | server CPU µs/req |");
        md.AppendLine("| ---: | --- | --- | ---: | ---: | ---: | ---: |");
        foreach (Measurement m in measurements)
        {
            md.AppendLine(Invariant($"| {m.Round} | {m.Server} | {m.Case} | {m.RequestsPerSecond:F0} | {m.P50Ms:F3} | {m.P99Ms:F3} | {m.CpuMicrosPerRequest:F2} |"));
        }

        return md.ToString();
    }

    public static string Svg(IReadOnlyList<BenchCase> cases, IReadOnlyList<string> servers, IReadOnlyList<Measurement> measurements)
    {
        const int Width = 960;
        const int Height = 440;
        const int Left = 60;
        const int Right = 20;
        const int Top = 50;
        const int Bottom = 110;
        int plotWidth = Width - Left - Right;
        int plotHeight = Height - Top - Bottom;

        var ratios = new double[cases.Count, servers.Count];
        double max = 1.2;
        for (int c = 0; c < cases.Count; c++)
        {
            double redis = Median(measurements, Redis, cases[c].Label, m => m.RequestsPerSecond);
            for (int s = 0; s < servers.Count; s++)
            {
                ratios[c, s] = Median(measurements, servers[s], cases[c].Label, m => m.RequestsPerSecond) / redis;
                max = Math.Max(max, ratios[c, s]);
            }
        }

        max = Math.Ceiling(max * 5) / 5;
        double Y(double ratio) => Top + plotHeight - (ratio / max * plotHeight);

        var svg = new StringBuilder();
        svg.AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">"));
        svg.AppendLine(Invariant($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        svg.AppendLine(Invariant($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">requests/s relative to redis-server (median of the rounds; 1.0 = redis-server)</text>"));
        for (double tick = 0; tick <= max + 1e-9; tick += 0.2)
        {
            double y = Y(tick);
            svg.AppendLine(Invariant($"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Width - Right}\" y2=\"{y:F1}\" stroke=\"#e5e5e5\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{Left - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{tick:F1}</text>"));
        }

        double groupWidth = plotWidth / (double)cases.Count;
        double barWidth = (groupWidth - 20) / servers.Count;
        for (int c = 0; c < cases.Count; c++)
        {
            double x0 = Left + (c * groupWidth) + 10;
            for (int s = 0; s < servers.Count; s++)
            {
                double ratio = ratios[c, s];
                double x = x0 + (s * barWidth);
                double y = Y(ratio);
                svg.AppendLine(Invariant($"<rect x=\"{x:F1}\" y=\"{y:F1}\" width=\"{barWidth - 2:F1}\" height=\"{Top + plotHeight - y:F1}\" fill=\"{Colors[s % Colors.Length]}\"><title>{Escape(servers[s])}: {ratio:F2}</title></rect>"));
                svg.AppendLine(Invariant($"<text x=\"{x + ((barWidth - 2) / 2):F1}\" y=\"{y - 3:F1}\" text-anchor=\"middle\" font-size=\"10\">{ratio:F2}</text>"));
            }

            string[] words = cases[c].Label.Split(' ', 3);
            double cx = x0 + ((groupWidth - 20) / 2);
            svg.AppendLine(Invariant($"<text x=\"{cx:F1}\" y=\"{Top + plotHeight + 16}\" text-anchor=\"middle\">{Escape(words[0])}</text>"));
            if (words.Length > 1)
            {
                svg.AppendLine(Invariant($"<text x=\"{cx:F1}\" y=\"{Top + plotHeight + 30}\" text-anchor=\"middle\">{Escape(string.Join(' ', words.Skip(1)))}</text>"));
            }
        }

        double one = Y(1.0);
        svg.AppendLine(Invariant($"<line x1=\"{Left}\" y1=\"{one:F1}\" x2=\"{Width - Right}\" y2=\"{one:F1}\" stroke=\"black\" stroke-dasharray=\"6 4\"/>"));
        svg.AppendLine(Invariant($"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Top + plotHeight}\" stroke=\"black\"/>"));
        for (int s = 0; s < servers.Count; s++)
        {
            double x = Left + (s * 170);
            double y = Height - 30;
            svg.AppendLine(Invariant($"<rect x=\"{x:F1}\" y=\"{y - 10:F1}\" width=\"12\" height=\"12\" fill=\"{Colors[s % Colors.Length]}\"/>"));
            svg.AppendLine(Invariant($"<text x=\"{x + 18:F1}\" y=\"{y:F1}\">{Escape(servers[s])}</text>"));
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static double Median(IReadOnlyList<Measurement> measurements, string server, string benchCase, Func<Measurement, double> value)
    {
        double[] values = measurements.Where(m => m.Server == server && m.Case == benchCase).Select(value).OrderBy(v => v).ToArray();
        if (values.Length == 0)
        {
            return double.NaN;
        }

        int mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
