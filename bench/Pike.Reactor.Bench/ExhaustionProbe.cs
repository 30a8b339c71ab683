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

namespace Pike.Reactor.Bench;

/// <summary>
/// Out of descriptors (docs/pitfalls.md 18): each server runs with RLIMIT_NOFILE 256 and 400
/// clients connect and send PING. Measured: how the 400 were answered, the server's CPU and log
/// over the next seconds while they stay (the log from the first connect on), how long a new client then waits for an answer (a
/// reply or its connection's end), and whether new clients are all served once the 400 leave.
/// Rows: redis-server and the sample started under <c>prlimit --nofile=256:256</c> (both lower
/// maxclients to fit), and the sample whose limit <c>prlimit --pid</c> lowers after start, so
/// that accept itself fails and the listener's back-off is what is measured.
/// </summary>
internal static class ExhaustionProbe
{
    private const int Limit = 256;
    private const int Clients = 400;
    private const int ClientsAfter = 150;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    public static int Run(string sample, TextWriter output)
    {
        string limit = $"--nofile={Limit}:{Limit}";
        (string Label, string File, string[] Args, bool LowerAfterStart)[] rows =
        [
            ("redis-server", "prlimit", [limit, "redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"], false),
            ("pike-epoll", "prlimit", [limit, "dotnet", sample, "--port", "{port}", "--poller", "epoll"], false),
            ("pike-epoll, limit lowered after start", "dotnet", [sample, "--port", "{port}", "--poller", "epoll"], true),
        ];

        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"| server ({Limit} descriptors, {Clients} clients) | +PONG / -ERR max clients / closed / unanswered | CPU while exhausted ({Window.TotalSeconds:0} s) | log from the first client to the last | a new client answered within (worst of 5) | served after the {Clients} left |");
        table.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var row in rows)
        {
            output.WriteLine($"exhaustion: {row.Label} ...");
            table.AppendLine(Measure(row.Label, row.File, row.Args, row.LowerAfterStart));
        }

        output.WriteLine();
        output.Write(table);
        return 0;
    }

    private static string Measure(string label, string file, string[] args, bool lowerAfterStart)
    {
        int port = FreePort();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        long logBytes = 0;
        using Process process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Interlocked.Add(ref logBytes, (e.Data?.Length ?? 0) + 1);
        process.ErrorDataReceived += (_, e) => Interlocked.Add(ref logBytes, (e.Data?.Length ?? 0) + 1);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clients = new List<Socket>();
        try
        {
            WaitUntilServing(port, process);
            if (lowerAfterStart)
            {
                using Process prlimit = Process.Start("prlimit", ["--pid", process.Id.ToString(CultureInfo.InvariantCulture), $"--nofile={Limit}:{Limit}"]);
                prlimit.WaitForExit();
            }

            long logBefore = Interlocked.Read(ref logBytes);
            clients.AddRange(ConnectAndPing(port, Clients));
            string[] first = Outcomes(clients, TimeSpan.FromSeconds(10));

            double cpuBefore = CpuSeconds(process.Id);
            var clock = Stopwatch.StartNew();
            TimeSpan worstNewClient = TimeSpan.Zero;
            var late = new List<Socket>();
            for (int i = 0; i < 5; i++)
            {
                Thread.Sleep(Window / 5 - TimeSpan.FromMilliseconds(100));
                var wait = Stopwatch.StartNew();
                List<Socket> one = ConnectAndPing(port, 1);
                late.AddRange(one);
                string answer = Outcomes(one, TimeSpan.FromSeconds(10))[0];
                TimeSpan waited = answer == "silent" ? TimeSpan.FromSeconds(10) : wait.Elapsed;
                worstNewClient = waited > worstNewClient ? waited : worstNewClient;
            }

            double cpuShare = (CpuSeconds(process.Id) - cpuBefore) / clock.Elapsed.TotalSeconds;
            long logDuring = Interlocked.Read(ref logBytes) - logBefore;

            clients.AddRange(late);
            clients.ForEach(c => c.Dispose());
            clients.Clear();
            Thread.Sleep(1000); // the server sees them go
            clients.AddRange(ConnectAndPing(port, ClientsAfter));
            int servedAfter = Outcomes(clients, TimeSpan.FromSeconds(10)).Count(r => r == "+PONG");

            string counts = $"{first.Count(r => r == "+PONG")} / {first.Count(r => r == "-ERR")} / {first.Count(r => r == "closed")} / {first.Count(r => r == "silent")}";
            return $"| {label} | {counts} | {cpuShare:P1} | {logDuring:N0} B | {worstNewClient.TotalMilliseconds:F0} ms | {servedAfter} of {ClientsAfter} |";
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            if (!process.HasExited)
            {
                Native.Terminate(process.Id);
                if (!process.WaitForExit(10_000))
                {
                    process.Kill(entireProcessTree: true);
                }
            }
        }
    }

    private static List<Socket> ConnectAndPing(int port, int count)
    {
        var sockets = new List<Socket>(count);
        for (int i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Connect(IPAddress.Loopback, port);
            socket.Send("PING\r\n"u8);
            sockets.Add(socket);
        }

        return sockets;
    }

    /// <summary>Each client's answer: "+PONG", "-ERR" (max clients), "closed" (the connection ended with no reply) or "silent" (nothing within <paramref name="limit"/>).</summary>
    private static string[] Outcomes(List<Socket> clients, TimeSpan limit)
    {
        var answers = new string?[clients.Count];
        var buffer = new byte[256];
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit && answers.Any(a => a is null))
        {
            var pending = Enumerable.Range(0, clients.Count).Where(i => answers[i] is null).ToList();
            var readable = pending.Select(i => clients[i]).ToList();
            Socket.Select(readable, null, null, 50_000);
            foreach (int i in pending.Where(i => readable.Contains(clients[i])))
            {
                int n;
                try
                {
                    n = clients[i].Receive(buffer);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                {
                    n = 0;
                }

                string text = Encoding.ASCII.GetString(buffer, 0, n);
                answers[i] = text.StartsWith("+PONG", StringComparison.Ordinal) ? "+PONG"
                    : text.StartsWith("-ERR max number of clients reached", StringComparison.Ordinal) ? "-ERR"
                    : n == 0 ? "closed" : "other: " + text;
            }
        }

        return answers.Select(a => a ?? "silent").ToArray();
    }

    private static void WaitUntilServing(int port, Process process)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                List<Socket> probe = ConnectAndPing(port, 1);
                string answer = Outcomes(probe, TimeSpan.FromSeconds(5))[0];
                probe[0].Dispose();
                if (answer == "+PONG")
                {
                    Thread.Sleep(500); // let the runtime open what it opens in its first moments
                    return;
                }
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
            {
                Thread.Sleep(50);
            }
        }
    }

    private static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)Native.ClockTicksPerSecond();
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
