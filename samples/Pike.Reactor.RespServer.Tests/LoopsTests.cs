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
    [Fact(Skip = "SO_REUSEPORT balancing is Linux's and FreeBSD's", SkipUnless = nameof(Balances), SkipType = typeof(LoopsTests))]
    public void Two_loops_share_one_store_and_every_INCR_counts()
    {
        const int Requests = 40_000;
        using var sample = new SampleServerProcess(null, "--poller", "epoll", "--loops", "2");
        string port = sample.Port.ToString(CultureInfo.InvariantCulture);

        // redis-benchmark's INCR without -r increments the one key counter:__rand_int__ from
        // every client: a lost update anywhere shows as a count short of the requests.
        (int exit, string output, string error) = ExternalProcess.Run(
            "redis-benchmark", ["-h", "127.0.0.1", "-p", port, "-t", "incr", "-n", Requests.ToString(CultureInfo.InvariantCulture), "-c", "40", "-P", "4", "--threads", "2", "-q"]);
        Assert.True(exit == 0, output + error);
        using var client = new RawClient(sample.Port);
        Assert.Equal($"${Requests.ToString(CultureInfo.InvariantCulture).Length}\r\n{Requests}\r\n", client.Call("GET", "counter:__rand_int__"));

        // A key set through one loop is read through the other: the store is one.
        var clients = Enumerable.Range(0, 16).Select(_ => new RawClient(sample.Port)).ToList();
        try
        {
            for (int i = 0; i < clients.Count; i++)
            {
                Assert.Equal("+OK\r\n", clients[i].Call("SET", $"k{i}", $"v{i}"));
            }

            foreach (RawClient reader in clients)
            {
                Assert.Equal(":17\r\n", reader.Call("DBSIZE")); // the 16 and the counter
                Assert.Equal("*2\r\n$2\r\nv0\r\n$3\r\nv15\r\n", reader.Call("MGET", "k0", "k15"));
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        // Both loops served: each loop thread ran some of the work.
        Dictionary<string, long> loopTicks = LoopThreadTicks(sample.ProcessId);
        Assert.Equal(["pike-loop-0", "pike-loop-1"], loopTicks.Keys.Order());
        Assert.All(loopTicks, loop => Assert.True(loop.Value > 0, $"{loop.Key} ran no work: {string.Join(", ", loopTicks)}"));
        sample.Stop();
    }

    [Theory]
    [InlineData("--loops 0", "--loops takes 1 to 64.")]
    [InlineData("--loops 65", "--loops takes 1 to 64.")]
    [InlineData("--loops two", "--loops takes a whole number, not 'two'.")]
    [InlineData("--loops 2 --spin-us 10", "--spin-us is for one loop")]
    [InlineData("--loops 2 --demo", "--demo runs on one loop.")]
    public void Loops_options_out_of_reach_are_refused_with_a_reason(string arguments, string reason)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.RespServer.dll");
        (int exit, string output, string error) = ExternalProcess.Run("dotnet", [dll, .. arguments.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.StartsWith(reason, error, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", output, StringComparison.Ordinal);
    }

    public static bool Balances => OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD();

    private static Dictionary<string, long> LoopThreadTicks(int pid)
    {
        var ticks = new Dictionary<string, long>();
        foreach (string task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
            if (name.StartsWith("pike-loop-", StringComparison.Ordinal))
            {
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks[name] = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }

        return ticks;
    }
}
