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
    public void A_large_bulk_grows_the_input_buffer_to_the_request_not_to_double()
    {
        var input = new ClientInput(new byte[64 * 1024]);
        const int length = 3_000_000;
        byte[] head = Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${length}\r\n");
        var processor = new CommandProcessor(new KeyValueStore(), new ServerStats(() => 0), "test", () => 0);
        var reply = new ReplyBuffer();
        var session = new ClientSession(1);
        byte[] chunk = new byte[8192];
        Feed(input, head);
        int sent = 0;
        while (sent < 2_500_000)
        {
            Feed(input, chunk);
            sent += chunk.Length;
            Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        }

        // Plain doubling would have reached 4 MiB for the 2.5 MB that arrived; it stops at the 3 MB request.
        Assert.InRange(input.Capacity, length, length + head.Length + 2 + 8192);
        Feed(input, new byte[length - sent]);
        Feed(input, "\r\n"u8);
        Assert.Equal(BatchResult.Continue, input.ProcessAvailable(processor, reply, session, int.MaxValue));
        Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(reply.Pending));
        Assert.True(input.Capacity <= 64 * 1024, "the large request's buffer was kept after it ran");
        Assert.True(processor.Store.TryGet("k"u8, out byte[] value) && value.Length == length);
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
}
