using System;
using System.Text;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Protocol;
using Pike.Reactor.RespServer.Server;
using Pike.Reactor.RespServer.Storage;
using Pike.Reactor.RespServer.Tests.Support;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>One client's turn is bounded, and its output limit is enforced before a reply is appended.</summary>
public sealed class FairnessTests
{
    [Fact]
    public void A_turn_ends_after_its_requests_and_leaves_the_rest_for_the_next()
    {
        var input = new ClientInput();
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        Feed(input, Encoding.ASCII.GetBytes(string.Concat(System.Linq.Enumerable.Repeat("PING\r\n", 10))));

        Assert.Equal(BatchResult.Yield, input.ProcessAvailable(processor, reply, session, int.MaxValue, maxRequests: 3));
        Assert.Equal("+PONG\r\n+PONG\r\n+PONG\r\n", Encoding.ASCII.GetString(reply.Pending));
        Assert.True(input.HasInput);

        int turns = 1;
        while (input.ProcessAvailable(processor, reply, session, int.MaxValue, maxRequests: 3) == BatchResult.Yield)
        {
            turns++;
        }

        Assert.Equal(3, turns); // 3 + 3 + 3 requests yield; the fourth turn runs the last one and ends the pipeline
        Assert.Equal(10 * 7, reply.PendingCount);
        Assert.False(input.HasInput);
    }

    [Fact]
    public void A_turn_ends_after_its_reply_bytes()
    {
        var input = new ClientInput();
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        processor.Store.Set("big"u8, new byte[100_000]);
        var pipeline = new StringBuilder();
        for (int i = 0; i < 5; i++)
        {
            pipeline.Append("GET big\r\n");
        }

        Feed(input, Encoding.ASCII.GetBytes(pipeline.ToString()));
        Assert.Equal(BatchResult.Yield, input.ProcessAvailable(processor, reply, session, int.MaxValue, maxReplyBytes: 150_000));
        Assert.Equal(2, reply.PendingCount / 100_000); // the second reply passed the budget: the turn ended there
        reply.Consume(reply.PendingCount);
        Assert.Equal(BatchResult.Yield, input.ProcessAvailable(processor, reply, session, int.MaxValue, maxReplyBytes: 150_000));
        reply.Consume(reply.PendingCount);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue, maxReplyBytes: 150_000));
        Assert.Equal(1, reply.PendingCount / 100_000);
    }

    [Fact]
    public void The_output_limit_trips_before_the_buffer_grows_past_it()
    {
        const int limit = 4 * 1024 * 1024;
        var input = new ClientInput();
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        processor.Store.Set("big"u8, new byte[1024 * 1024]);
        var pipeline = new StringBuilder();
        for (int i = 0; i < 10; i++)
        {
            pipeline.Append("GET big\r\n");
        }

        Feed(input, Encoding.ASCII.GetBytes(pipeline.ToString()));
        Assert.Equal(BatchResult.Drop, input.ProcessAvailable(processor, reply, session, limit, maxReplyBytes: int.MaxValue));
        Assert.True(reply.Overflowed);
        Assert.Equal(3, reply.PendingCount / (1024 * 1024)); // a fourth would have passed 4 MiB with its header
        Assert.True(reply.Capacity <= limit, $"the buffer grew to {reply.Capacity} bytes, past the {limit}-byte limit");
        Assert.Equal(1, processor.Stats.ClientsDroppedForOutput);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_pipeline_longer_than_a_turn_is_answered_whole_and_in_order(string poller)
    {
        // 5,000 requests in one send: several turns, each resumed by the loop, reading paused meanwhile.
        using var server = new InProcessServer(poller, spinMicroseconds: 0);
        using var client = new RawClient(server.Port);
        using var other = new RawClient(server.Port);
        var pipeline = new StringBuilder();
        for (int i = 0; i < 5000; i++)
        {
            pipeline.Append($"*2\r\n$4\r\nECHO\r\n${i.ToString().Length}\r\n{i}\r\n");
        }

        client.Send(pipeline.ToString());
        Assert.Equal("+PONG\r\n", other.Call("PING"));
        for (int i = 0; i < 5000; i++)
        {
            Assert.Equal($"${i.ToString().Length}\r\n{i}\r\n", client.ReadReplyText());
        }

        Assert.Equal("+PONG\r\n", client.Call("PING")); // reading resumed after the pipeline
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
}

/// <summary>Memory in proportion to the data: large arguments do not double the buffer, freed large memory is collected.</summary>
public sealed class LargeValueTests
{
    [Fact]
    public void A_large_value_is_received_into_the_array_the_store_keeps()
    {
        var input = new ClientInput(new byte[64 * 1024], new LargeArgumentBudget());
        const int length = 3_000_000;
        byte[] head = Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${length}\r\n");
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        byte[] value = Pattern(length);

        // The header and the first bytes of the value in one read, the rest in reads of 8 KiB.
        Feed(input, [.. head, .. value.AsSpan(0, 5000)]);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        byte[]? large = input.LargeArgumentArray;
        Assert.NotNull(large);
        Assert.Equal(length, large.Length);
        for (int sent = 5000; sent < length; sent += 8192)
        {
            Feed(input, value.AsSpan(sent, Math.Min(8192, length - sent)));
            Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
            Assert.True(input.Capacity <= 64 * 1024, $"the input buffer grew to {input.Capacity} bytes for a value received elsewhere");
        }

        // The CRLF split over two reads, a GET of the key behind it.
        Feed(input, "\r"u8);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.Equal(0, reply.PendingCount);
        Feed(input, "\n*1\r\n$6\r\nDBSIZE\r\n"u8);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.Equal("+OK\r\n:1\r\n", Encoding.ASCII.GetString(reply.Pending));
        Assert.True(processor.Store.TryGet("k"u8, out byte[] stored));
        Assert.Same(large, stored); // kept as it was received: no second copy
        Assert.True(value.AsSpan().SequenceEqual(stored));
        Assert.Null(input.LargeArgumentArray);
        Assert.False(input.HasInput);
    }

    [Fact]
    public void Large_values_in_one_MSET_and_a_large_ECHO_arrive_whole()
    {
        var input = new ClientInput(new byte[64 * 1024]);
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        byte[] first = Pattern(2_000_000);
        byte[] second = Pattern(1_500_000);
        byte[] echo = Pattern(1_200_000);
        byte[] request = [
            .. Encoding.ASCII.GetBytes($"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n${first.Length}\r\n"), .. first,
            .. Encoding.ASCII.GetBytes($"\r\n$1\r\nb\r\n${second.Length}\r\n"), .. second,
            .. Encoding.ASCII.GetBytes($"\r\n*2\r\n$4\r\nECHO\r\n${echo.Length}\r\n"), .. echo, .. "\r\n"u8];
        long releasedBefore = LargeMemory.ReleasedTotal;
        for (int at = 0; at < request.Length; at += 65_000)
        {
            Feed(input, request.AsSpan(at, Math.Min(65_000, request.Length - at)));
            Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        }

        Assert.True(processor.Store.TryGet("a"u8, out byte[] a) && a.AsSpan().SequenceEqual(first));
        Assert.True(processor.Store.TryGet("b"u8, out byte[] b) && b.AsSpan().SequenceEqual(second));
        byte[] expected = [.. "+OK\r\n"u8, .. Encoding.ASCII.GetBytes($"${echo.Length}\r\n"), .. echo, .. "\r\n"u8];
        Assert.True(reply.Pending.SequenceEqual(expected), "the ECHO of a large argument differs");

        // ECHO did not keep its large argument: it was counted as let go of.
        Assert.True(LargeMemory.ReleasedTotal - releasedBefore >= echo.Length);
        Assert.Null(input.LargeArgumentArray);
    }

    [Fact]
    public void A_partial_large_value_is_let_go_when_the_client_leaves()
    {
        var input = new ClientInput(new byte[64 * 1024]);
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        const int declared = 50_000_000;
        Feed(input, Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${declared}\r\n"));
        Feed(input, new byte[2_000_000]);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.NotNull(input.LargeArgumentArray);
        long releasedBefore = LargeMemory.ReleasedTotal;

        input.Release();

        Assert.Null(input.LargeArgumentArray);
        Assert.True(LargeMemory.ReleasedTotal - releasedBefore >= declared, "the partial value was not counted as let go of");
        Assert.Equal(0, processor.Store.Count);
    }

    [Fact]
    public void A_large_argument_that_lies_about_its_length_still_counts_against_the_request_limit()
    {
        var input = new ClientInput(new byte[64 * 1024]);
        (CommandProcessor processor, ReplyBuffer reply, ClientSession session) = NewProcessor();
        Feed(input, Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${RequestParser.MaxBulkLength + 1}\r\n"));
        Assert.Equal(BatchResult.CloseAfterReply, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.Equal("-ERR Protocol error: invalid bulk length\r\n", Encoding.ASCII.GetString(reply.Pending));
        Assert.Null(input.LargeArgumentArray); // refused on the header: nothing was reserved
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_large_SET_and_the_GET_behind_it_in_one_send(string poller)
    {
        using var server = new InProcessServer(poller, spinMicroseconds: 0);
        using var client = new RawClient(server.Port);
        byte[] value = Pattern(3_000_000);
        byte[] request = [
            .. Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${value.Length}\r\n"), .. value, .. "\r\n"u8,
            .. RawClient.Encode(["GET", "big"])];
        client.Send(request);
        Assert.Equal("+OK\r\n", client.ReadReplyText());
        byte[] expected = [.. Encoding.ASCII.GetBytes($"${value.Length}\r\n"), .. value, .. "\r\n"u8];
        Assert.True(client.ReadReply().AsSpan().SequenceEqual(expected), "GET did not return the large value");
    }

    [Fact]
    public void Deleting_large_values_leads_to_a_collection()
    {
        var store = new KeyValueStore();
        int before = LargeMemory.Collections;
        store.Set("a"u8, new byte[(int)LargeMemory.CollectAfter / 2]);
        store.Set("b"u8, new byte[(int)LargeMemory.CollectAfter / 2]);
        Assert.True(store.Remove("a"u8));
        store.Clear();
        LargeMemory.CollectIfDue();
        Assert.True(LargeMemory.Collections > before, "freeing 32 MiB of values collected nothing");
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

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 31 + (i >> 11));
        }

        return bytes;
    }

    private static (CommandProcessor, ReplyBuffer, ClientSession) NewProcessor() =>
        (new CommandProcessor(new KeyValueStore(), new ServerStats(() => 0), "test", () => 0), new ReplyBuffer(), new ClientSession(1));
}
