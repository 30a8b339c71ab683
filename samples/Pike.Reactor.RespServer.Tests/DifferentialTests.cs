using System;
using System.Collections.Generic;
using System.Text;
using Pike.Reactor.RespServer.Tests.Support;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>
/// The same requests sent to a real redis-server and to the sample; the replies must be equal
/// byte for byte. INFO, COMMAND, CONFIG GET of settings that differ, CLIENT SETINFO (Redis 7.2)
/// and HELLO (answered like Redis 5 on purpose, to keep clients on RESP2) are left out.
/// </summary>
public sealed class DifferentialTests : IClassFixture<DifferentialTests.RedisFixture>
{
    private readonly RedisFixture _redis;

    public DifferentialTests(RedisFixture redis) => _redis = redis;

    public static TheoryData<string> Sessions => new()
    {
        "strings",
        "keys",
        "counters",
        "errors",
        "inline",
        "connection",
        "arguments",
        "sweep",
    };

    // Every command and subcommand answered here, with 0 to 4 arguments "0" after it (QUIT,
    // SUBSCRIBE and HELLO change the connection, UNSUBSCRIBE answers once per channel; CLIENT ID, INFO,
    // bare COMMAND, COMMAND COUNT, COMMAND DOCS/INFO/LIST and CONFIG GET answer what differs between
    // the servers by nature: each has its own cases above).
    private static readonly string[][] SweptCommands =
    [
        ["PING"], ["ECHO"], ["SET"], ["GET"], ["MGET"], ["MSET"], ["DEL"], ["UNLINK"], ["EXISTS"], ["INCR"], ["DBSIZE"],
        ["FLUSHALL"], ["SELECT"], ["PUBLISH"], ["NOSUCH"],
        ["CONFIG"], ["CONFIG", "SET"], ["CONFIG", "RESETSTAT"], ["CONFIG", "HELP"], ["CONFIG", "NOSUCH"],
        ["CLIENT"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME"], ["CLIENT", "HELP"], ["CLIENT", "NOSUCH"],
        ["COMMAND", "COUNT"], ["COMMAND", "GETKEYS"], ["COMMAND", "GETKEYSANDFLAGS"], ["COMMAND", "HELP"], ["COMMAND", "NOSUCH"],
    ];

    private static object[] Sweep()
    {
        var requests = new List<object>();
        foreach (string[] command in SweptCommands)
        {
            for (int extra = command is ["COMMAND", "COUNT"] ? 1 : 0; extra <= 4; extra++)
            {
                string[] request = new string[command.Length + extra];
                command.CopyTo(request, 0);
                request.AsSpan(command.Length).Fill("0");
                requests.Add(request);
            }
        }

        return [.. requests];
    }

    private static readonly Dictionary<string, object[]> Requests = new()
    {
        ["strings"] =
        [
            new[] { "SET", "k", "v" }, new[] { "GET", "k" }, new[] { "GET", "missing" }, new[] { "SET", "k", "" }, new[] { "GET", "k" },
            new[] { "SET", "bin", "a\r\nb\0c\u00e9" }, new[] { "GET", "bin" }, new[] { "MGET", "k", "missing", "bin" }, new[] { "MSET", "a", "1", "b", "2" },
            new[] { "MGET", "a", "b" }, new[] { "SET", "k" }, new[] { "GET" }, new[] { "GET", "a", "b" }, new[] { "MGET" }, new[] { "MSET", "a" },
            new[] { "MSET", "a", "1", "b" }, new[] { "SET", "k", "v", "bogus" }, new[] { "set", "lower", "case" }, new[] { "gEt", "lower" },
        ],
        ["keys"] =
        [
            new[] { "SET", "a", "1" }, new[] { "SET", "b", "2" }, new[] { "EXISTS", "a" }, new[] { "EXISTS", "a", "b", "a", "missing" }, new[] { "EXISTS" },
            new[] { "DBSIZE" }, new[] { "DBSIZE", "x" }, new[] { "DEL", "a", "missing", "a" }, new[] { "DEL" }, new[] { "UNLINK", "b" }, new[] { "UNLINK" },
            new[] { "DBSIZE" }, new[] { "SET", "c", "3" }, new[] { "FLUSHALL" }, new[] { "DBSIZE" }, new[] { "FLUSHALL", "ASYNC" }, new[] { "FLUSHALL", "SYNC" },
            new[] { "FLUSHALL", "NOW" }, new[] { "SELECT", "0" }, new[] { "SELECT", "x" },
        ],
        ["counters"] =
        [
            new[] { "INCR", "n" }, new[] { "INCR", "n" }, new[] { "GET", "n" }, new[] { "SET", "s", "abc" }, new[] { "INCR", "s" },
            new[] { "SET", "z", "007" }, new[] { "INCR", "z" }, new[] { "SET", "neg", "-5" }, new[] { "INCR", "neg" }, new[] { "SET", "sp", " 1" }, new[] { "INCR", "sp" },
            new[] { "SET", "max", "9223372036854775807" }, new[] { "INCR", "max" }, new[] { "SET", "min", "-9223372036854775808" }, new[] { "INCR", "min" },
            new[] { "SET", "big", "9223372036854775808" }, new[] { "INCR", "big" }, new[] { "INCR" }, new[] { "INCR", "a", "b" }, new[] { "SET", "e", "" }, new[] { "INCR", "e" },
        ],
        ["errors"] =
        [
            new[] { "NOPE" }, new[] { "NOPE", "a", "b c" }, new[] { "NOPE", new string('x', 200) }, new[] { "NOPE", new string('y', 100), new string('z', 100), "w" },
            new[] { "NOPE", "line\r\nbreak" }, new[] { new string('N', 200) }, new[] { "PING", "a", "b" }, new[] { "ECHO" }, new[] { "ECHO", "a", "b" },
            new[] { "CONFIG" }, new[] { "CONFIG", "GET" }, new[] { "CONFIG", "NOPE" }, new[] { "CLIENT" }, new[] { "CLIENT", "NOPE" },
            new[] { "CLIENT", "SETNAME", "bad name" }, new[] { "" },
        ],
        ["inline"] =
        [
            "PING", "PING hello", "SET \"a b\" 'c d'", "GET \"a b\"", "SET x \"\\x41\\x42\\n\"", "GET x", "ECHO 'it\\'s'", "  EXISTS   x   ", "",
            "MGET x \"a b\" nope", "DBSIZE",
        ],
        ["connection"] =
        [
            new[] { "PING" }, new[] { "PING", "msg" }, new[] { "ECHO", "hi" }, new[] { "CLIENT", "GETNAME" }, new[] { "CLIENT", "SETNAME", "me" }, new[] { "CLIENT", "GETNAME" },
            new[] { "CONFIG", "GET", "save" }, new[] { "CONFIG", "GET", "appendonly" }, new[] { "CONFIG", "GET", "timeout" },
            new[] { "SUBSCRIBE", "ch1", "ch2" }, new[] { "PING" }, new[] { "PING", "x" }, new[] { "GET", "k" }, new[] { "UNSUBSCRIBE", "ch1" }, new[] { "UNSUBSCRIBE" },
            new[] { "UNSUBSCRIBE" }, new[] { "PING" }, new[] { "QUIT" },
        ],
        ["arguments"] =
        [
            new[] { "CONFIG", "SET" }, new[] { "CONFIG", "SET", "foo" }, new[] { "CONFIG", "SET", "foo", "bar" }, new[] { "CONFIG", "SET", "a", "b", "c" },
            new[] { "CONFIG", "SET", "a", "b", "c", "d" }, new[] { "CONFIG", "SET", "save", "" },
            new[] { "CONFIG", "SET", "save", "x" }, new[] { "CONFIG", "SET", "timeout", "0" }, new[] { "CONFIG", "SET", "timeout", "x" },
            new[] { "CONFIG", "SET", "timeout", "-1" }, new[] { "CONFIG", "SET", "appendonly", "no" }, new[] { "CONFIG", "SET", "appendonly", "maybe" },
            new[] { "CONFIG", "SET", "databases", "2" }, new[] { "CONFIG", "SET", "save", "", "save", "" }, new[] { "config", "set", "TIMEOUT", "0", "nope", "1" },
            new[] { "CONFIG", "RESETSTAT" }, new[] { "CONFIG", "RESETSTAT", "x" }, new[] { "CONFIG", "HELP" }, new[] { "CONFIG", "HELP", "x" },
            new[] { "config", "nope" }, new[] { "CONFIG", "GET", "a", "b" },
            new[] { "CLIENT", "GETNAME", "x" }, new[] { "CLIENT", "ID", "x" }, new[] { "CLIENT", "SETNAME" }, new[] { "CLIENT", "SETNAME", "a", "b" },
            new[] { "CLIENT", "SETNAME", "" }, new[] { "CLIENT", "GETNAME" }, new[] { "CLIENT", "HELP" }, new[] { "CLIENT", "HELP", "x" }, new[] { "client", "Nope", "x" },
            new[] { "COMMAND", "NOSUCH" }, new[] { "command", "nope", "x" }, new[] { "COMMAND", "GETKEYS" }, new[] { "COMMAND", "GETKEYS", "get" },
            new[] { "COMMAND", "GETKEYS", "get", "a" }, new[] { "COMMAND", "GETKEYS", "get", "a", "b" }, new[] { "COMMAND", "GETKEYS", "nosuch", "x" },
            new[] { "COMMAND", "GETKEYS", "mset", "a", "1", "b", "2" }, new[] { "COMMAND", "GETKEYS", "mset", "a" }, new[] { "COMMAND", "GETKEYS", "del", "a", "b" },
            new[] { "COMMAND", "GETKEYS", "SET", "a", "b" }, new[] { "COMMAND", "GETKEYS", "ping", "x" }, new[] { "COMMAND", "GETKEYS", "config", "get", "x" },
            new[] { "COMMAND", "GETKEYS", "client", "id" }, new[] { "COMMAND", "GETKEYSANDFLAGS", "get", "a" }, new[] { "COMMAND", "GETKEYSANDFLAGS", "del", "a", "b" },
            new[] { "COMMAND", "HELP" }, new[] { "COMMAND", "HELP", "x" }, new[] { "COMMAND", "COUNT", "x" }, new[] { "COMMAND", "LIST", "x" },
            new[] { "COMMAND", "DOCS", "nosuch" }, new[] { "INFO", "a", "b", "c" }, new[] { "INFO", "nosuch" },
            new[] { "PING", "a", "b" }, new[] { "SELECT" }, new[] { "SELECT", "0", "1" }, new[] { "FLUSHALL", "a", "b" }, new[] { "PUBLISH", "a" },
            new[] { "PUBLISH", "a", "b", "c" }, new[] { "SUBSCRIBE" }, new[] { "DBSIZE", "x" }, new[] { "MSET", "a" }, new[] { "MGET" }, new[] { "QUIT", "x" },
        ],
        ["sweep"] = Sweep(),
    };

    [Theory]
    [MemberData(nameof(Sessions))]
    public void Replies_match_redis_server_byte_for_byte(string session)
    {
        using var pike = new InProcessServer();
        using var redisClient = new RawClient(_redis.Port);
        using var pikeClient = new RawClient(pike.Port);
        Assert.Equal(redisClient.Call("FLUSHALL"), pikeClient.Call("FLUSHALL"));
        var differences = new List<string>();
        foreach (object request in Requests[session])
        {
            byte[] bytes = request is string inline ? Encoding.UTF8.GetBytes(inline + "\r\n") : RawClient.Encode((string[])request);
            string shown = request is string text ? text : string.Join(' ', (string[])request);
            if (request is string empty && empty.Length == 0)
            {
                // An empty inline line has no reply: check that by what follows it.
                redisClient.Send(bytes);
                pikeClient.Send(bytes);
                continue;
            }

            redisClient.Send(bytes);
            pikeClient.Send(bytes);
            string expected = Encoding.UTF8.GetString(redisClient.ReadReply());
            string actual = Encoding.UTF8.GetString(pikeClient.ReadReply());
            if (expected != actual)
            {
                differences.Add($"{session}: {shown}\nredis: {Escape(expected)}\npike:  {Escape(actual)}");
            }
        }

        Assert.True(differences.Count == 0, $"{differences.Count} of {Requests[session].Length} replies differ:\n{string.Join('\n', differences)}");
    }

    [Theory]
    [InlineData("*1\r\n$x\r\n")]
    [InlineData("*1\r\n:3\r\n")]
    [InlineData("*1\r\n\r\n")]
    [InlineData("*1\r\n$-3\r\n")]
    [InlineData("*1\r\n$01\r\n")]
    [InlineData("*1\r\n$536870913\r\n")]
    [InlineData("*abc\r\n")]
    [InlineData("*-1\r\nPING\r\n")]
    [InlineData("*0\r\nPING\r\n")]
    [InlineData("SET \"open\r\n")]
    [InlineData("SET 'a'b\r\n")]
    [InlineData("$3\r\nfoo\r\n")]
    [InlineData("PING\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n*1\r\n$z\r\n")]
    public void Protocol_errors_match_redis_server_and_both_close(string input)
    {
        using var pike = new InProcessServer();
        using var redisClient = new RawClient(_redis.Port);
        using var pikeClient = new RawClient(pike.Port);
        redisClient.Send(input);
        pikeClient.Send(input);
        string expected = ReadUntilClosedOrQuiet(redisClient, out bool redisClosed);
        string actual = ReadUntilClosedOrQuiet(pikeClient, out bool pikeClosed);
        Assert.True(expected == actual, $"redis: {Escape(expected)}\npike:  {Escape(actual)}");
        Assert.Equal(redisClosed, pikeClosed);
    }

    private static string ReadUntilClosedOrQuiet(RawClient client, out bool closed)
    {
        client.Socket.ReceiveTimeout = 1000;
        var text = new StringBuilder();
        var buffer = new byte[4096];
        closed = false;
        try
        {
            while (true)
            {
                int n = client.Socket.Receive(buffer);
                if (n == 0)
                {
                    closed = true;
                    break;
                }

                text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        catch (System.Net.Sockets.SocketException error) when (error.SocketErrorCode == System.Net.Sockets.SocketError.TimedOut || error.SocketErrorCode == System.Net.Sockets.SocketError.WouldBlock)
        {
            // quiet for a second: the server kept the connection open, waiting for more
        }
        catch (System.Net.Sockets.SocketException error) when (error.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
            closed = true;
        }

        return text.ToString();
    }

    private static string Escape(string text) => text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>One redis-server for the class; each session starts with FLUSHALL.</summary>
    public sealed class RedisFixture : IDisposable
    {
        private readonly RedisServerProcess _process = new();

        public int Port => _process.Port;

        public void Dispose() => _process.Dispose();
    }
}
