using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Pike.Reactor.RespServer.Tests.Support;
using StackExchange.Redis;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>The server used through StackExchange.Redis, the client most .NET applications use.</summary>
public class StackExchangeRedisTests
{
    private static ConfigurationOptions Options(int port)
    {
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = 5000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
            ConnectRetry = 1,
        };
        options.EndPoints.Add("127.0.0.1", port);
        return options;
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public async Task Strings_counters_and_keys_work_through_StackExchange_Redis(string poller)
    {
        using var server = new InProcessServer(poller);
        var log = new StringWriter();
        await using ConnectionMultiplexer mux = await ConnectionMultiplexer.ConnectAsync(Options(server.Port), log);
        Assert.True(await WaitFor(() => mux.IsConnected), "not connected: " + log);
        IDatabase db = mux.GetDatabase();

        Assert.True(await db.PingAsync() >= TimeSpan.Zero);
        Assert.True(await db.StringSetAsync("greeting", "hello"));
        Assert.Equal("hello", (string?)await db.StringGetAsync("greeting"));
        Assert.Equal(1, await db.StringIncrementAsync("visits"));
        Assert.Equal(2, await db.StringIncrementAsync("visits"));
        RedisValue[] values = await db.StringGetAsync(["greeting", "visits", "missing"]);
        Assert.Equal(["hello", "2", RedisValue.Null], values);
        Assert.True(await db.KeyExistsAsync("greeting"));
        Assert.Equal(2, await db.KeyExistsAsync(["greeting", "visits", "missing"]));
        Assert.True(await db.KeyDeleteAsync("greeting"));
        Assert.False(await db.KeyExistsAsync("greeting"));
        Assert.Equal("echoed", (string?)await db.ExecuteAsync("ECHO", "echoed"));
        Assert.Equal(1, (long)await db.ExecuteAsync("DBSIZE"));

        byte[] large = new byte[1024 * 1024];
        new Random(3).NextBytes(large);
        Assert.True(await db.StringSetAsync("large", large));
        Assert.Equal(large, (byte[]?)await db.StringGetAsync("large"));
    }

    [Fact]
    public async Task Many_concurrent_requests_from_one_multiplexer_are_pipelined_and_answered()
    {
        using var server = new InProcessServer();
        await using ConnectionMultiplexer mux = await ConnectionMultiplexer.ConnectAsync(Options(server.Port));
        Assert.True(await WaitFor(() => mux.IsConnected));
        IDatabase db = mux.GetDatabase();
        var tasks = new Task<long>[2000];
        for (int i = 0; i < tasks.Length; i++)
        {
            tasks[i] = db.StringIncrementAsync("counter");
        }

        long[] results = await Task.WhenAll(tasks);
        Array.Sort(results);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(i + 1, results[i]);
        }
    }

    private static async Task<bool> WaitFor(Func<bool> condition)
    {
        long deadline = Environment.TickCount64 + 10_000;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            await Task.Delay(20, CancellationToken.None);
        }

        return true;
    }
}
