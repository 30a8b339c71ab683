using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using Pike.Reactor.RespServer.Tests.Support;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>
/// maxclients and descriptor exhaustion, beside redis-server: beyond the limit a client is told
/// so and closed; under a low RLIMIT_NOFILE every client is answered; out of descriptors the
/// sample backs off, idles, logs once, and serves again when clients leave.
/// </summary>
[Collection(nameof(ProcessWideTests))] // hundreds of sockets and child processes: apart from the other tests
public class MaxClientsTests
{
    private const string MaxClientsReached = "-ERR max number of clients reached\r\n";
    private const string Pong = "+PONG\r\n";

    [Fact]
    public void Beyond_maxclients_the_reply_is_redis_servers_byte_for_byte()
    {
        using var redis = new RedisServerProcess(null, "--maxclients", "2");
        using var sample = new InProcessServer(maxClients: 2);
        foreach (int port in new[] { redis.Port, sample.Port })
        {
            using var first = new RawClient(port);
            using var second = new RawClient(port);
            Assert.Equal(Pong, first.Call("PING"));
            Assert.Equal(Pong, second.Call("PING"));

            byte[] refusal = ReadToEnd(port);
            Assert.Equal(MaxClientsReached, Encoding.ASCII.GetString(refusal));

            // One leaves: the next client is served, and INFO counts the refusal as Redis does.
            first.Dispose();
            using RawClient next = ConnectWhenServed(port);
            string info = next.Call("INFO");
            Assert.Matches(@"\r\nrejected_connections:[1-9]\d*\r\n", info); // 1, or more when the next client came before the server saw one leave
        }
    }

    [Fact]
    public void Under_a_low_descriptor_limit_every_client_is_answered_as_by_redis_server()
    {
        const int Limit = 256;
        const int Clients = 400;
        using var redis = new RedisServerProcess(Limit);
        using var sample = new SampleServerProcess(Limit, "--poller", "epoll");
        foreach (int port in new[] { redis.Port, sample.Port })
        {
            List<Socket> clients = ConnectAndPing(port, Clients);
            try
            {
                Dictionary<string, int> replies = Outcomes(clients).GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
                string seen = string.Join(", ", replies.Select(r => $"{r.Value} x {r.Key.Trim()}"));
                Assert.True(replies.Keys.All(r => r is Pong or MaxClientsReached), $"port {port}: {seen}");
                Assert.True(replies.GetValueOrDefault(MaxClientsReached) > 0, $"port {port}: the limit was not reached: {seen}");
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }

            // All gone: a new round is served whole.
            using RawClient probe = ConnectWhenServed(port);
            List<Socket> again = ConnectAndPing(port, 100);
            try
            {
                Assert.All(Outcomes(again), reply => Assert.Equal(Pong, reply));
            }
            finally
            {
                again.ForEach(c => c.Dispose());
            }
        }

        Assert.Single(sample.Log(), l => l.Contains("maxclients reduced to", StringComparison.Ordinal));
        sample.Stop();
    }

    [Fact]
    public void Out_of_descriptors_the_sample_backs_off_logs_once_and_serves_again_when_clients_leave()
    {
        // The limit is lowered under the running server, below what maxclients assumed: accept
        // itself fails (EMFILE), as when something else in the process holds the descriptors.
        using var sample = new SampleServerProcess(null, "--poller", "epoll");
        using (RawClient settled = ConnectWhenServed(sample.Port))
        {
            // Serving once first: the runtime opens descriptors of its own in its first moments.
        }

        int open = ProcFs.OpenDescriptors(sample.ProcessId);
        int limit = open + 40;
        var (exit, _, error) = ExternalProcess.Run("prlimit", ["--pid", sample.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), $"--nofile={limit}:{limit}"]);
        Assert.True(exit == 0, error);

        List<Socket> clients = ConnectAndPing(sample.Port, 150);
        var late = new List<Socket>();
        try
        {
            string[] replies = Outcomes(clients);
            Assert.Contains(Pong, replies);
            Assert.Contains("EOF", replies); // refused through the spare descriptor: no descriptor to write an error on
            sample.WaitForLog(l => l.StartsWith("accept: out of file descriptors", StringComparison.Ordinal), "the exhaustion");

            // Exhausted and idle: a late client is still answered (its connection ends) and the CPU stays low.
            TimeSpan cpuBefore = ProcFs.CpuTime(sample.ProcessId);
            var window = Stopwatch.StartNew();
            late.AddRange(ConnectAndPing(sample.Port, 10));
            Assert.All(Outcomes(late), reply => Assert.Equal("EOF", reply));
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Max(0, 2000 - window.ElapsedMilliseconds)));
            double share = (ProcFs.CpuTime(sample.ProcessId) - cpuBefore) / window.Elapsed;
            Assert.True(share < 0.3, $"the exhausted sample used {share:P0} of a CPU");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            late.ForEach(c => c.Dispose());
        }

        var waitClock = Stopwatch.StartNew();
        while (ProcFs.OpenDescriptors(sample.ProcessId) > open + 5)
        {
            Assert.True(waitClock.Elapsed < TimeSpan.FromSeconds(20), "the sample kept the connections that left");
            Thread.Sleep(20);
        }

        List<Socket> again = ConnectAndPing(sample.Port, 20);
        try
        {
            Assert.All(Outcomes(again), reply => Assert.Equal(Pong, reply));
        }
        finally
        {
            again.ForEach(c => c.Dispose());
        }

        sample.WaitForLog(l => l.StartsWith("accept: accepting again", StringComparison.Ordinal), "the recovery");
        string[] log = sample.Log();
        Assert.Single(log, l => l.StartsWith("accept: out of", StringComparison.Ordinal));
        Assert.Single(log, l => l.StartsWith("accept: accepting again", StringComparison.Ordinal));
        Assert.True(sample.LogBytes < 4096, $"{sample.LogBytes} bytes of log: {string.Join(" | ", log.Take(5))}");
        sample.Stop();
    }

    private static byte[] ReadToEnd(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        socket.Connect(IPAddress.Loopback, port);
        var received = new List<byte>();
        var buffer = new byte[256];
        int n;
        while ((n = socket.Receive(buffer)) > 0)
        {
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return received.ToArray();
    }

    /// <summary>A client the server has room for, once it has seen an earlier one leave.</summary>
    private static RawClient ConnectWhenServed(int port)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var client = new RawClient(port);
            try
            {
                if (client.Call("PING") == Pong)
                {
                    return client;
                }
            }
            catch (InvalidOperationException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                // refused meanwhile: the server has not yet seen the other client go
            }

            client.Dispose();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "no room for a client after one left");
            Thread.Sleep(20);
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

    /// <summary>Each client's first line, or "EOF" when its connection ended (or was reset) without one; fails if any hears nothing within 20 s.</summary>
    private static string[] Outcomes(List<Socket> clients)
    {
        var replies = new string?[clients.Count];
        var received = new List<byte>[clients.Count];
        var clock = Stopwatch.StartNew();
        var buffer = new byte[256];
        while (replies.Any(r => r is null))
        {
            var pending = Enumerable.Range(0, clients.Count).Where(i => replies[i] is null).ToList();
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{pending.Count} clients heard nothing within 20 s");
            var readable = pending.Select(i => clients[i]).ToList();
            Socket.Select(readable, null, null, 100_000);
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

                received[i] ??= new List<byte>();
                received[i].AddRange(buffer.AsSpan(0, n).ToArray());
                string text = Encoding.ASCII.GetString(received[i].ToArray());
                if (text.EndsWith("\r\n", StringComparison.Ordinal))
                {
                    replies[i] = text;
                }
                else if (n == 0)
                {
                    replies[i] = text.Length == 0 ? "EOF" : "partial: " + text;
                }
            }
        }

        return replies!;
    }
}

/// <summary>Tests that load the whole machine's loopback (hundreds of sockets, child servers) run apart from the others.</summary>
[CollectionDefinition(nameof(ProcessWideTests), DisableParallelization = true)]
public sealed class ProcessWideTests
{
}
