using System;
using System.Collections.Generic;
using System.Text;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Protocol;
using Pike.Reactor.RespServer.Server;
using Pike.Reactor.RespServer.Storage;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

public class ParserTests
{
    // A pipeline mixing multibulk and inline requests, an empty argument, binary data, quotes.
    private static readonly byte[] Pipeline = Concat(
        RawClientEncode("SET", "key", "value"),
        "PING\r\n"u8.ToArray(),
        RawClientEncode("GET", "key"),
        "*0\r\n"u8.ToArray(),
        RawClientEncode("SET", "empty", ""),
        "SET \"spaced key\" 'it\\'s'\r\n"u8.ToArray(),
        "GET \"spaced key\"\n"u8.ToArray(),
        RawClientEncode("SET", "bin", "a\r\nb\0c"),
        RawClientEncode("MGET", "key", "empty", "bin", "missing"),
        "\r\n"u8.ToArray(),
        RawClientEncode("INCR", "n"),
        "  incr   n  \r\n"u8.ToArray(),
        RawClientEncode("ECHO", "done"));

    [Fact]
    public void Every_split_point_of_a_pipeline_gives_the_same_replies()
    {
        byte[] whole = Run(Pipeline.Length);
        Assert.Equal("+OK\r\n+PONG\r\n$5\r\nvalue\r\n+OK\r\n+OK\r\n$4\r\nit's\r\n+OK\r\n*4\r\n$5\r\nvalue\r\n$0\r\n\r\n$6\r\na\r\nb\0c\r\n$-1\r\n:1\r\n:2\r\n$4\r\ndone\r\n", Encoding.ASCII.GetString(whole));
        for (int split = 0; split <= Pipeline.Length; split++)
        {
            byte[] replies = Run(Pipeline.Length, split);
            Assert.True(whole.AsSpan().SequenceEqual(replies), $"split at byte {split} changed the replies");
        }
    }

    [Fact]
    public void A_pipeline_fed_one_byte_at_a_time_gives_the_same_replies()
    {
        Assert.Equal(Run(Pipeline.Length), Run(1));
    }

    [Fact]
    public void Inline_requests_unquote_like_redis()
    {
        var parser = new RequestParser();
        byte[] line = "SET \"a b\\x41\\n\" 'c\\'d' plain\r\n"u8.ToArray();
        Assert.Equal(ParseStatus.Complete, parser.Parse(line));
        Assert.Equal(["SET", "a bA\n", "c'd", "plain"], Args(parser, line));
        Assert.Equal(line.Length, parser.Position);
    }

    [Theory]
    [InlineData("*1\r\n$x\r\n", "invalid bulk length")]
    [InlineData("*1\r\n:3\r\n", "expected '$', got ':'")]
    [InlineData("*1\r\n$-3\r\n", "invalid bulk length")]
    [InlineData("*1\r\n$01\r\n", "invalid bulk length")]
    [InlineData("*1\r\n$536870913\r\n", "invalid bulk length")]
    [InlineData("*1\r\n$99999999999999999999999\r\n", "invalid bulk length")]
    [InlineData("*abc\r\n", "invalid multibulk length")]
    [InlineData("*+1\r\n", "invalid multibulk length")]
    [InlineData("*2000000\r\n", "invalid multibulk length")]
    [InlineData("*2147483648\r\n", "invalid multibulk length")]
    [InlineData("SET \"unterminated\r\n", "unbalanced quotes in request")]
    [InlineData("SET \"a\"b\r\n", "unbalanced quotes in request")]
    public void Malformed_requests_are_protocol_errors(string input, string reason)
    {
        var parser = new RequestParser();
        byte[] bytes = Encoding.ASCII.GetBytes(input);
        Assert.Equal(ParseStatus.Error, parser.Parse(bytes));
        Assert.Equal($"-ERR Protocol error: {reason}\r\n", Encoding.ASCII.GetString(parser.Error!));
    }

    [Theory]
    [InlineData('A', "too big inline request")]
    [InlineData('*', "too big mbulk count string")]
    [InlineData('$', "too big bulk count string")]
    public void Lines_longer_than_64_KiB_without_an_end_are_protocol_errors(char kind, string reason)
    {
        string head = kind switch { '*' => "*1", '$' => "*1\r\n$1", _ => "A" };
        byte[] bytes = Encoding.ASCII.GetBytes(head + new string('1', RequestParser.MaxLineLength + 1));
        var parser = new RequestParser();
        Assert.Equal(ParseStatus.Error, parser.Parse(bytes));
        Assert.Equal($"-ERR Protocol error: {reason}\r\n", Encoding.ASCII.GetString(parser.Error!));
    }

    [Fact]
    public void A_huge_declared_bulk_reserves_within_the_budget_and_grows_past_it()
    {
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();

        // Within the budget: an array of the declared length (uninitialized: no pages until bytes come), reserved until the client leaves.
        var budget = new LargeArgumentBudget(600_000_000);
        var input = new ClientInput(new byte[64 * 1024], budget);
        Feed(input, "*2\r\n$3\r\nGET\r\n$500000000\r\nabc"u8);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.Equal(500_000_000, input.LargeArgumentArray!.Length);
        Assert.Equal(500_000_000, budget.Reserved);
        Assert.True(input.Capacity <= 64 * 1024, "the input buffer grew for bytes that go elsewhere");

        // A second one would pass the budget: its array starts at a few MiB.
        var second = new ClientInput(new byte[64 * 1024], budget);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Feed(second, "*2\r\n$3\r\nGET\r\n$500000000\r\nabc"u8);
        Assert.Equal(BatchResult.Continue, second.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.InRange(second.LargeArgumentArray!.Length, 3, 8 * 1024 * 1024);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 9 * 1024 * 1024, "memory was reserved for a declared length past the budget");
        Assert.Equal(500_000_000, budget.Reserved);

        input.Release();
        second.Release();
        Assert.Equal(0, budget.Reserved);

        var oversized = new ClientInput();
        Feed(oversized, "*1\r\n$536870913\r\n"u8);
        Assert.Equal(BatchResult.CloseAfterReply, oversized.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.Equal("-ERR Protocol error: invalid bulk length\r\n", Encoding.ASCII.GetString(reply.Pending));
    }

    [Fact]
    public void A_large_value_past_the_budget_grows_to_exactly_its_length()
    {
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        var budget = new LargeArgumentBudget(0);
        var input = new ClientInput(new byte[64 * 1024], budget);
        var value = new byte[10_000_000];
        new Random(7).NextBytes(value);
        byte[] request = [.. Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${value.Length}\r\n"), .. value, .. "\r\n"u8];
        int largest = 0;
        for (int at = 0; at < request.Length; at += 100_000)
        {
            Feed(input, request.AsSpan(at, Math.Min(100_000, request.Length - at)));
            Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
            largest = Math.Max(largest, input.LargeArgumentArray?.Length ?? 0);
        }

        Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(reply.Pending));
        Assert.True(processor.Store.TryGet("k"u8, out byte[] stored));
        Assert.Equal(value.Length, stored.Length);
        Assert.True(value.AsSpan().SequenceEqual(stored));
        Assert.True(largest <= value.Length);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public void A_one_MiB_value_split_across_many_reads_is_stored_whole()
    {
        byte[] value = new byte[1024 * 1024];
        new Random(5).NextBytes(value);
        byte[] request = Concat(Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$1\r\nv\r\n${value.Length}\r\n"), value, "\r\n"u8.ToArray(), RawClientEncode("GET", "v"));
        var input = new ClientInput();
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        for (int at = 0; at < request.Length; at += 7919)
        {
            Feed(input, request.AsSpan(at, Math.Min(7919, request.Length - at)));
            Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        }

        byte[] expected = Concat("+OK\r\n"u8.ToArray(), Encoding.ASCII.GetBytes($"${value.Length}\r\n"), value, "\r\n"u8.ToArray());
        Assert.True(expected.AsSpan().SequenceEqual(reply.Pending));
    }

    [Fact]
    public void Redis_integers_are_strict()
    {
        Assert.True(RespInteger.TryParse("0"u8, out long zero) && zero == 0);
        Assert.True(RespInteger.TryParse("-9223372036854775808"u8, out long min) && min == long.MinValue);
        Assert.True(RespInteger.TryParse("9223372036854775807"u8, out long max) && max == long.MaxValue);
        foreach (string bad in new[] { "", "-", "+1", "01", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1a" })
        {
            Assert.False(RespInteger.TryParse(Encoding.ASCII.GetBytes(bad), out _), bad);
        }
    }

    // Feeds Pipeline in chunks of `chunk` bytes (or two pieces split at `split`) and returns all replies.
    private static byte[] Run(int chunk, int split = -1)
    {
        var input = new ClientInput();
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        var pieces = new List<(int, int)>();
        if (split >= 0)
        {
            pieces.Add((0, split));
            pieces.Add((split, Pipeline.Length - split));
        }
        else
        {
            for (int at = 0; at < Pipeline.Length; at += chunk)
            {
                pieces.Add((at, Math.Min(chunk, Pipeline.Length - at)));
            }
        }

        foreach ((int offset, int length) in pieces)
        {
            Feed(input, Pipeline.AsSpan(offset, length));
            Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        }

        return reply.Pending.ToArray();
    }

    private static void Feed(ClientInput input, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            Span<byte> space = input.ReadSpace().Span;
            int n = Math.Min(space.Length, bytes.Length);
            bytes[..n].CopyTo(space);
            input.Advance(n);
            bytes = bytes[n..];
        }
    }

    private static (CommandProcessor, ReplyBuffer, ClientSession) NewProcessor() =>
        (new CommandProcessor(new KeyValueStore(), new ServerStats(() => 0), "test", () => 0), new ReplyBuffer(), new ClientSession(1));

    private static string[] Args(RequestParser parser, byte[] buffer)
    {
        var args = new List<string>();
        foreach (ArgRange range in parser.Arguments)
        {
            args.Add(Encoding.ASCII.GetString(buffer, range.Offset, range.Length));
        }

        return args.ToArray();
    }

    private static byte[] RawClientEncode(params string[] args) => Support.RawClient.Encode(args);

    private static byte[] Concat(params byte[][] parts)
    {
        var all = new List<byte>();
        foreach (byte[] part in parts)
        {
            all.AddRange(part);
        }

        return all.ToArray();
    }
}
