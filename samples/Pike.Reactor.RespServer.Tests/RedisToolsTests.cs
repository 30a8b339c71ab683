using System;
using System.Collections.Generic;
using System.Globalization;
using Pike.Reactor.RespServer.Tests.Support;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>The server driven by Redis's own tools from Debian's redis-tools: redis-cli and redis-benchmark.</summary>
public class RedisToolsTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Redis_cli_runs_every_supported_command(string poller)
    {
        using var server = new InProcessServer(poller);
        Assert.Equal("PONG\n", Cli(server, "PING"));
        Assert.Equal("hello world\n", Cli(server, "ECHO", "hello world"));
        Assert.Equal("OK\n", Cli(server, "SET", "name", "pike"));
        Assert.Equal("pike\n", Cli(server, "GET", "name"));
        Assert.Equal("1\n", Cli(server, "INCR", "n"));
        Assert.Equal("2\n", Cli(server, "INCR", "n"));
        Assert.Equal("pike\n2\n\n", Cli(server, "MGET", "name", "n", "missing"));
        Assert.Equal("2\n", Cli(server, "EXISTS", "name", "n", "missing"));
        Assert.Equal("2\n", Cli(server, "DBSIZE"));
        Assert.Equal("1\n", Cli(server, "DEL", "name", "missing"));
        Assert.Equal("OK\n", Cli(server, "FLUSHALL"));
        Assert.Equal("0\n", Cli(server, "DBSIZE"));
        Assert.Contains("ERR value is not an integer or out of range", Cli(server, "INCR", "bad") + Cli(server, "SET", "bad", "x") + Cli(server, "INCR", "bad"));
        Assert.StartsWith("ERR unknown command 'NOPE'", Cli(server, "NOPE", "x"));
        Assert.Contains("redis_version:", Cli(server, "INFO"));
    }

    [Fact]
    public void Redis_cli_reads_commands_from_stdin_and_pipes_mass_inserts()
    {
        using var server = new InProcessServer();
        (int exit, string output, string error) = ExternalProcess.Run("redis-cli", ["-p", Port(server)], "SET a 1\nINCR a\nGET a\n");
        Assert.True(exit == 0, error);
        Assert.Equal("OK\n2\n2\n", output);

        var protocol = new System.Text.StringBuilder();
        for (int i = 0; i < 5000; i++)
        {
            protocol.Append(System.Text.Encoding.ASCII.GetString(RawClient.Encode("SET", $"key:{i}", $"value:{i}")));
        }

        (exit, output, error) = ExternalProcess.Run("redis-cli", ["-p", Port(server), "--pipe"], protocol.ToString());
        Assert.True(exit == 0, output + error);
        Assert.Contains("errors: 0, replies: 5000", output);
        Assert.Equal("5001\n", Cli(server, "DBSIZE"));
        Assert.Equal("value:4999\n", Cli(server, "GET", "key:4999"));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Redis_benchmark_completes_every_test_it_knows_we_support(string poller)
    {
        using var server = new InProcessServer(poller);
        foreach (string pipeline in new[] { "1", "16" })
        {
            (int exit, string output, string error) = ExternalProcess.Run(
                "redis-benchmark",
                ["-h", "127.0.0.1", "-p", Port(server), "-t", "ping_inline,ping_mbulk,set,get,incr,mset", "-n", "20000", "-c", "20", "-P", pipeline, "-d", "100", "--csv"]);
            Assert.True(exit == 0, error);
            var rows = new Dictionary<string, double>();
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] fields = line.Split(',');
                if (fields.Length > 2 && double.TryParse(fields[1].Trim('"'), NumberStyles.Float, CultureInfo.InvariantCulture, out double rps))
                {
                    rows[fields[0].Trim('"')] = rps;
                }
            }

            foreach (string test in new[] { "PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)" })
            {
                Assert.True(rows.TryGetValue(test, out double rps) && rps > 0, $"{test} missing from: {output}");
            }
        }

        Assert.Equal("PONG\n", Cli(server, "PING"));
        // Two runs of 20,000 INCRs each: every one executed exactly once.
        Assert.Equal("40000\n", Cli(server, "GET", "counter:__rand_int__"));
    }

    [Fact]
    public void Redis_benchmark_with_many_clients_is_served()
    {
        using var server = new InProcessServer();
        (int exit, string output, string error) = ExternalProcess.Run(
            "redis-benchmark", ["-h", "127.0.0.1", "-p", Port(server), "-t", "ping_inline", "-n", "20000", "-c", "500", "--csv"]);
        Assert.True(exit == 0, error);
        Assert.Contains("\"PING_INLINE\"", output);
        Assert.Contains("total_connections_received:", Cli(server, "INFO"));
    }

    private static string Port(InProcessServer server) => server.Port.ToString(CultureInfo.InvariantCulture);

    private static string Cli(InProcessServer server, params string[] args)
    {
        var all = new List<string> { "-p", Port(server) };
        all.AddRange(args);
        (int exit, string output, string error) = ExternalProcess.Run("redis-cli", all);
        Assert.True(exit == 0, error);
        return output;
    }
}
