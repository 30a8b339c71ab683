using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Pike.Reactor.RespServer.Tests.Support;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>The sample with <c>--loops N</c>: several loops, one store.</summary>
public class LoopsTests
{
    [Theory(Skip = "the test reads /proc and runs the sample on epoll and io_uring: Linux", SkipUnless = nameof(IsLinux), SkipType = typeof(LoopsTests))]
    [InlineData("--poller epoll")]
    [InlineData("--poller io_uring --wake-batching-us 50")]
    [InlineData("--poller io_uring --ring-receives")]
    public void Two_loops_share_one_store_and_every_INCR_counts(string poller)
    {
        Assert.SkipUnless(!poller.Contains("--wake-batching-us", StringComparison.Ordinal) || WakeBatchingAvailable(), "io_uring's wake batching is not available here (it needs Linux 6.12 and io_uring allowed)");
        const int Requests = 40_000;
        using var sample = new SampleServerProcess(null, [.. poller.Split(' '), "--loops", "2"]);
        string port = sample.Port.ToString(CultureInfo.InvariantCulture);

        // redis-benchmark's INCR without -r increments the one key counter:__rand_int__ from
        // every client: a lost update anywhere shows as a count short of the requests.
        (int exit, string output, string error) = ExternalProcess.Run(
            "redis-benchmark", ["-h", "127.0.0.1", "-p", port, "-t", "incr", "-n", Requests.ToString(CultureInfo.InvariantCulture), "-c", "40", "-P", "4", "--threads", "2", "-q"]);
        Assert.True(exit == 0, output + error);
        using var client = new RawClient(sample.Port);
        Assert.Equal($"${Requests.ToString(CultureInfo.InvariantCulture).Length}\r\n{Requests}\r\n", client.Call("GET", "counter:__rand_int__"));

        // A key set through one loop is read through the other: the store is one. INFO's
        // pike_loop says which loop answered; 16 connections reach both (the kernel hashes them).
        var clients = Enumerable.Range(0, 16).Select(_ => new RawClient(sample.Port)).ToList();
        try
        {
            for (int i = 0; i < clients.Count; i++)
            {
                Assert.Equal("+OK\r\n", clients[i].Call("SET", $"k{i}", $"v{i}"));
            }

            var loops = new HashSet<string>();
            var ids = new HashSet<string>();
            foreach (RawClient reader in clients)
            {
                Assert.Equal(":17\r\n", reader.Call("DBSIZE")); // the 16 and the counter
                Assert.Equal("*2\r\n$2\r\nv0\r\n$3\r\nv15\r\n", reader.Call("MGET", "k0", "k15"));
                string server = reader.Call("INFO", "server");
                loops.Add(System.Text.RegularExpressions.Regex.Match(server, @"pike_loop:(\d+)").Groups[1].Value);
                Assert.Contains($"\r\ntcp_port:{port}\r\n", server, StringComparison.Ordinal); // every loop's own listener's port
                ids.Add(reader.Call("CLIENT", "ID"));
            }

            Assert.Equal(["0", "1"], loops.Order());
            Assert.Equal(clients.Count, ids.Count); // client ids are the server's, not the loop's
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        sample.Stop();
    }

    [Fact(Skip = "SO_REUSEPORT balancing and epoll: Linux", SkipUnless = nameof(IsLinux), SkipType = typeof(LoopsTests))]
    public void INFO_gives_each_loop_its_own_listeners_port_with_no_step_to_announce_it()
    {
        // The hosts are made the way the command line makes them, and nothing tells them the port
        // afterwards: each loop's first client must see it in INFO (it used to read 0 until the
        // main thread got round to recording it).
        var shared = new Pike.Reactor.RespServer.Server.SharedServerState(2);
        var hosts = new List<Pike.Reactor.RespServer.Server.RespServerHost>();
        using var group = new PollerGroup(2, () => PollerFactory.Create("epoll"));
        group.ListenOnEach(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0), poller =>
        {
            lock (hosts)
            {
                var host = new Pike.Reactor.RespServer.Server.RespServerHost(poller, shared, log: TextWriter.Null, loop: hosts.Count);
                hosts.Add(host);
                return host.Listener;
            }
        });
        int port = hosts[0].EndPoint.Port;
        var clients = Enumerable.Range(0, 16).Select(_ => new RawClient(port)).ToList();
        try
        {
            var loops = new HashSet<string>();
            foreach (RawClient client in clients)
            {
                string server = client.Call("INFO", "server");
                loops.Add(System.Text.RegularExpressions.Regex.Match(server, @"pike_loop:(\d+)").Groups[1].Value);
                Assert.Contains($"\r\ntcp_port:{port}\r\n", server, StringComparison.Ordinal);
            }

            Assert.Equal(["0", "1"], loops.Order()); // both loops answered
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact(Skip = "the test runs the sample on epoll: Linux", SkipUnless = nameof(IsLinux), SkipType = typeof(LoopsTests))]
    public void Loops_refuse_a_port_another_socket_holds()
    {
        // SO_REUSEPORT would let a second server join the first one's port and take half its clients.
        using var first = new SampleServerProcess(null, "--poller", "epoll", "--loops", "2");
        string dll = Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.RespServer.dll");
        string port = first.Port.ToString(CultureInfo.InvariantCulture);
        (int exit, string output, string error) = ExternalProcess.Run("dotnet", [dll, "--poller", "epoll", "--loops", "2", "--port", port]);
        Assert.Equal(2, exit);
        Assert.Contains($"127.0.0.1:{port} is in use", error, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", output, StringComparison.Ordinal);
        using var client = new RawClient(first.Port);
        Assert.Equal("+PONG\r\n", client.Call("PING"));
        first.Stop();
    }

    [Theory]
    [InlineData("--loops 0", "--loops takes 1 to 64.")]
    [InlineData("--loops 65", "--loops takes 1 to 64.")]
    [InlineData("--loops two", "--loops takes a whole number, not 'two'.")]
    [InlineData("--loops 2 --spin-us 10", "--spin-us is for one loop")]
    [InlineData("--loops 2 --demo", "--demo runs on one loop.")]
    [InlineData("--loops 4 --maxclients 3", "--loops 4: more loops than the 3 clients allowed.")]
    [InlineData("--max-output-bytes 0", "--max-output-bytes takes 1 or more.")]
    [InlineData("--wake-batching-us 50", "--wake-batching-us is an io_uring option: give --poller io_uring with it.")]
    [InlineData("--poller epoll --wake-batching-us 50", "--wake-batching-us is an io_uring option: give --poller io_uring with it.")]
    [InlineData("--poller io_uring --wake-batching-us 0", "--wake-batching-us takes 1 to 10000.")]
    [InlineData("--ring-receives", "--ring-receives is an io_uring option: give --poller io_uring with it.")]
    [InlineData("--poller epoll --ring-receives", "--ring-receives is an io_uring option: give --poller io_uring with it.")]
    [InlineData("--poller io_uring --wake-batching-us 10001", "--wake-batching-us takes 1 to 10000.")]
    public void Loops_options_out_of_reach_are_refused_with_a_reason(string arguments, string reason)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.RespServer.dll");
        (int exit, string output, string error) = ExternalProcess.Run("dotnet", [dll, .. arguments.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.StartsWith(reason, error, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", output, StringComparison.Ordinal);
    }

    public static bool IsLinux => OperatingSystem.IsLinux();

    private static bool WakeBatchingAvailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            new Pike.Reactor.Linux.IoUringPoller(wakeBatching: TimeSpan.FromMicroseconds(50)).Dispose();
            return true;
        }
        catch (Exception error) when (error is PollerUnavailableException or NativeCallException)
        {
            return false;
        }
    }
}
