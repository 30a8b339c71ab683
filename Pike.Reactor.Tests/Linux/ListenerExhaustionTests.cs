using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// A listener out of descriptors (docs/pitfalls.md 18), in a child process whose RLIMIT_NOFILE
/// prlimit lowers to 256: more clients than descriptors connect, and the listener neither
/// spins nor leaves the waiting clients unanswered, says so once, and serves again once
/// clients leave. The child is Pike.Reactor.Tests.ListenerHost, which keeps every client.
/// </summary>
[Trait("Lane", "linux")]
[Collection(nameof(ProcessWideCollection))] // hundreds of sockets: kept apart from the descriptor-counting tests
public class ListenerExhaustionTests
{
    private const int DescriptorLimit = 256;
    private const int Clients = 400;

    [Theory]
    [MemberData(nameof(Pollers.Kernel), MemberType = typeof(Pollers))] // the child host makes the factory's pollers
    public void Out_of_descriptors_the_listener_refuses_waiting_clients_idles_and_serves_again_later(string name)
    {
        using var host = new ListenerHostProcess(name, DescriptorLimit);
        var held = new List<Socket>();
        var refused = new List<Socket>();
        try
        {
            // More clients than descriptors: each is either served (its line echoed) or refused (EOF or reset).
            List<Socket> first = ConnectAndSend(host.Port, Clients);
            (List<Socket> served, List<Socket> closed) = Outcomes(first);
            held.AddRange(served);
            refused.AddRange(closed);
            Assert.True(served.Count > 0 && closed.Count > 0, $"{served.Count} served, {closed.Count} refused of {Clients}: the limit was not reached");
            host.WaitForLine(l => l.StartsWith("exhausted TooManyOpenSockets", StringComparison.Ordinal), "the exhaustion report");

            // Exhausted: the loop idles between retries, and a client arriving now is still answered (refused).
            TimeSpan cpuBefore = host.CpuTime();
            var window = Stopwatch.StartNew();
            List<Socket> late = ConnectAndSend(host.Port, 20);
            (List<Socket> lateServed, List<Socket> lateRefused) = Outcomes(late);
            refused.AddRange(lateRefused);
            held.AddRange(lateServed);
            Thread.Sleep(TimeSpan.FromSeconds(2) - window.Elapsed > TimeSpan.Zero ? TimeSpan.FromSeconds(2) - window.Elapsed : TimeSpan.Zero);
            double cpuShare = (host.CpuTime() - cpuBefore) / window.Elapsed;
            Assert.Empty(lateServed);
            Assert.True(cpuShare < 0.3, $"the exhausted listener used {cpuShare:P0} of a CPU (a spinning loop uses all of one)");

            // Clients leave; new ones are all served, and the episode ends with one "recovered".
            held.ForEach(s => s.Dispose());
            held.Clear();
            Wait.For(() => host.OpenDescriptors() < DescriptorLimit - 150, "the host to close the connections that left");
            List<Socket> again = ConnectAndSend(host.Port, 100);
            (List<Socket> againServed, List<Socket> againRefused) = Outcomes(again);
            held.AddRange(againServed);
            refused.AddRange(againRefused);
            Assert.True(againRefused.Count == 0, $"{againRefused.Count} of 100 refused after the others left");
            host.WaitForLine(l => l.StartsWith("recovered refused=", StringComparison.Ordinal), "the recovery report");

            string[] lines = host.StopAndReadLines();
            Assert.Single(lines, l => l.StartsWith("exhausted", StringComparison.Ordinal));
            Assert.Single(lines, l => l.StartsWith("recovered", StringComparison.Ordinal));
            long refusedByHost = long.Parse(lines.Last().Split('=')[1], CultureInfo.InvariantCulture);
            Assert.True(refusedByHost >= closed.Count, $"the host counted {refusedByHost} refused, the clients saw {closed.Count + lateRefused.Count}");
        }
        finally
        {
            held.ForEach(s => s.Dispose());
            refused.ForEach(s => s.Dispose());
        }
    }

    [Theory]
    [MemberData(nameof(Pollers.Kernel), MemberType = typeof(Pollers))] // the child host makes the factory's pollers
    public void With_refusal_off_the_waiting_clients_stay_queued_and_are_served_when_others_leave(string name)
    {
        using var host = new ListenerHostProcess(name, DescriptorLimit, "queue");
        List<Socket> clients = ConnectAndSend(host.Port, 300);
        try
        {
            host.WaitForLine(l => l.StartsWith("exhausted TooManyOpenSockets", StringComparison.Ordinal), "the exhaustion report");
            TimeSpan cpuBefore = host.CpuTime();
            var window = Stopwatch.StartNew();
            (List<Socket> served, List<Socket> refused, List<Socket> waiting) = Sweep(clients, TimeSpan.FromSeconds(2));
            double cpuShare = (host.CpuTime() - cpuBefore) / window.Elapsed;
            Assert.Empty(refused);
            Assert.True(served.Count > 0 && waiting.Count > 0, $"{served.Count} served, {waiting.Count} waiting");
            Assert.True(cpuShare < 0.3, $"the exhausted listener used {cpuShare:P0} of a CPU");

            // The served leave: every waiting client is accepted and served, none refused.
            served.ForEach(s => s.Dispose());
            (List<Socket> Served, List<Socket> Refused) later = Outcomes(waiting);
            Assert.Empty(later.Refused);
            host.WaitForLine(l => l.StartsWith("recovered refused=0", StringComparison.Ordinal), "the recovery report");
            string[] lines = host.StopAndReadLines();
            Assert.Single(lines, l => l.StartsWith("exhausted", StringComparison.Ordinal));
            Assert.Equal("stopped refused=0", lines.Last());
        }
        finally
        {
            clients.ForEach(s => s.Dispose());
        }
    }

    private static List<Socket> ConnectAndSend(int port, int count)
    {
        var sockets = new List<Socket>(count);
        for (int i = 0; i < count; i++)
        {
            Socket socket = Loopback.Connect(new IPEndPoint(IPAddress.Loopback, port));
            socket.Send("hi\n"u8);
            sockets.Add(socket);
        }

        return sockets;
    }

    /// <summary>Waits until every client has its echo (served) or its connection ended (refused).</summary>
    private static (List<Socket> Served, List<Socket> Refused) Outcomes(List<Socket> clients)
    {
        var served = new List<Socket>();
        var refused = new List<Socket>();
        var pending = new List<Socket>(clients);
        var buffer = new byte[16];
        var clock = Stopwatch.StartNew();
        while (pending.Count > 0)
        {
            Assert.True(clock.Elapsed < Wait.Deadline, $"{pending.Count} clients heard nothing within {Wait.Deadline.TotalSeconds} s");
            var readable = new List<Socket>(pending);
            Socket.Select(readable, null, null, 100_000);
            foreach (Socket socket in readable)
            {
                int received;
                try
                {
                    received = socket.Receive(buffer);
                }
                catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
                {
                    received = 0;
                }

                (received > 0 ? served : refused).Add(socket);
                pending.Remove(socket);
            }
        }

        return (served, refused);
    }

    /// <summary>Sorts the clients for <paramref name="duration"/>: served (echo), refused (EOF or reset), and still waiting.</summary>
    private static (List<Socket> Served, List<Socket> Refused, List<Socket> Waiting) Sweep(List<Socket> clients, TimeSpan duration)
    {
        var served = new List<Socket>();
        var refused = new List<Socket>();
        var pending = new List<Socket>(clients);
        var buffer = new byte[16];
        var clock = Stopwatch.StartNew();
        while (pending.Count > 0 && clock.Elapsed < duration)
        {
            var readable = new List<Socket>(pending);
            Socket.Select(readable, null, null, 100_000);
            foreach (Socket socket in readable)
            {
                int received;
                try
                {
                    received = socket.Receive(buffer);
                }
                catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
                {
                    received = 0;
                }

                (received > 0 ? served : refused).Add(socket);
                pending.Remove(socket);
            }
        }

        return (served, refused, pending);
    }

    /// <summary>Pike.Reactor.Tests.ListenerHost under <c>prlimit --nofile=N:N</c>, its output lines collected.</summary>
    private sealed class ListenerHostProcess : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = new();

        public ListenerHostProcess(string poller, int descriptorLimit, params string[] extra)
        {
            string dll = typeof(ListenerHostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "ListenerHost").Value!;
            Assert.True(File.Exists(dll), $"{dll} is not built");
            var start = new ProcessStartInfo("prlimit")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[] { $"--nofile={descriptorLimit}:{descriptorLimit}", "dotnet", dll, poller }.Concat(extra))
            {
                start.ArgumentList.Add(arg);
            }

            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (_lines)
                    {
                        _lines.Add(e.Data);
                    }
                }
            };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (_lines)
                    {
                        _lines.Add("stderr: " + e.Data);
                    }
                }
            };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            string listening = WaitForLine(l => l.StartsWith("listening ", StringComparison.Ordinal), "the host to listen");
            Port = int.Parse(listening.AsSpan("listening ".Length), CultureInfo.InvariantCulture);
        }

        public int Port { get; }

        public string WaitForLine(Func<string, bool> match, string what)
        {
            string? found = null;
            Wait.For(() =>
            {
                lock (_lines)
                {
                    found = _lines.FirstOrDefault(match);
                }

                return found is not null || _process.HasExited;
            }, what);
            if (found is null)
            {
                _process.WaitForExit();
                Assert.Fail($"the host exited ({_process.ExitCode}) before {what}: {string.Join(" | ", Lines())}");
            }

            return found!;
        }

        /// <summary>The child's open descriptors (/proc/PID/fd).</summary>
        public int OpenDescriptors() => Directory.GetFileSystemEntries($"/proc/{_process.Id}/fd").Length;

        /// <summary>User and system CPU of the child, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).</summary>
        public TimeSpan CpuTime()
        {
            string stat = File.ReadAllText($"/proc/{_process.Id}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }

        public string[] StopAndReadLines()
        {
            _process.StandardInput.Close();
            Assert.True(_process.WaitForExit(20_000), "the host did not stop when its input closed");
            _process.WaitForExit();
            Assert.True(_process.ExitCode == 0, string.Join(" | ", Lines()));
            return Lines();
        }

        private string[] Lines()
        {
            lock (_lines)
            {
                return _lines.ToArray();
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }

            _process.Dispose();
        }
    }
}
