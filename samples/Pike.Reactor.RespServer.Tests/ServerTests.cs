using System;
using System.Threading;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Linq;
using Pike.Reactor.RespServer.Tests.Support;
using Xunit;

namespace Pike.Reactor.RespServer.Tests;

/// <summary>The server over real loopback sockets, on every poller this host has.</summary>
public class ServerTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_pipeline_of_a_thousand_requests_is_answered_in_order(string poller)
    {
        // Without spinning: the loop blocks in the kernel as soon as it is idle.
        using var server = new InProcessServer(poller, spinMicroseconds: 0);
        using var client = new RawClient(server.Port);
        var pipeline = new StringBuilder();
        for (int i = 0; i < 1000; i++)
        {
            pipeline.Append(i % 2 == 0 ? "PING\r\n" : $"*2\r\n$4\r\nECHO\r\n${i.ToString().Length}\r\n{i}\r\n");
        }

        client.Send(pipeline.ToString());
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(i % 2 == 0 ? "+PONG\r\n" : $"${i.ToString().Length}\r\n{i}\r\n", client.ReadReplyText());
        }
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_request_sent_one_byte_per_segment_is_answered(string poller)
    {
        using var server = new InProcessServer(poller);
        using var client = new RawClient(server.Port);
        foreach (byte b in RawClient.Encode("SET", "split", "across segments"))
        {
            client.Send([b]);
        }

        Assert.Equal("+OK\r\n", client.ReadReplyText());
        Assert.Equal("$15\r\nacross segments\r\n", client.Call("GET", "split"));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void One_MiB_values_round_trip(string poller)
    {
        using var server = new InProcessServer(poller);
        using var client = new RawClient(server.Port);
        var value = new StringBuilder(1024 * 1024);
        var random = new Random(7);
        for (int i = 0; i < 1024 * 1024; i++)
        {
            value.Append((char)('a' + random.Next(26)));
        }

        string text = value.ToString();
        Assert.Equal("+OK\r\n", client.Call("SET", "big", text));
        Assert.Equal($"$1048576\r\n{text}\r\n", client.Call("GET", "big"));
        client.SendCommand("MGET", "big", "big");
        Assert.Equal($"*2\r\n$1048576\r\n{text}\r\n$1048576\r\n{text}\r\n", client.ReadReplyText());
    }

    [Theory]
    [InlineData("*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n")]
    [InlineData("*1\r\n:3\r\n", "-ERR Protocol error: expected '$', got ':'\r\n")]
    [InlineData("*1\r\n$-3\r\n", "-ERR Protocol error: invalid bulk length\r\n")]
    [InlineData("*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n")]
    [InlineData("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n")]
    [InlineData("*2000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n")]
    [InlineData("SET \"open\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n")]
    [InlineData("PING\r\n*1\r\n$1x\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")]
    public void Malformed_input_gets_an_error_and_a_close_and_leaves_other_clients_alone(string input, string expected)
    {
        using var server = new InProcessServer();
        using var bystander = new RawClient(server.Port);
        Assert.Equal("+OK\r\n", bystander.Call("SET", "k", "v"));
        using var bad = new RawClient(server.Port);
        bad.Send(input);
        var received = new StringBuilder();
        while (received.Length < expected.Length)
        {
            received.Append(bad.ReadReplyText());
        }

        Assert.Equal(expected, received.ToString());
        Assert.True(bad.WaitForClose(), "the server kept the connection open after a protocol error");
        Assert.Equal("$1\r\nv\r\n", bystander.Call("GET", "k"));
        Assert.Contains("protocol_errors:1\r\n", bystander.Call("INFO"));
    }

    [Fact]
    public void Random_garbage_never_takes_the_server_down()
    {
        using var server = new InProcessServer();
        var random = new Random(11);
        for (int i = 0; i < 200; i++)
        {
            using var client = new RawClient(server.Port);
            byte[] junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            if (i % 3 == 0)
            {
                junk[0] = (byte)'*';
            }

            client.Send(junk);
            client.Send("\r\nPING\r\n");
        }

        using var check = new RawClient(server.Port);
        Assert.Equal("+PONG\r\n", check.Call("PING"));
    }

    [Fact]
    public void A_client_that_does_not_read_is_dropped_at_the_output_limit()
    {
        const int Limit = 1024 * 1024;
        using var server = new InProcessServer("epoll", Limit);
        using var other = new RawClient(server.Port);
        Assert.Equal("+OK\r\n", other.Call("SET", "v", new string('x', 64 * 1024)));
        using var slow = new RawClient(server.Port, receiveBuffer: 4096);
        byte[] gets = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("GET v\r\n", 100)));
        long deadline = Environment.TickCount64 + 20_000;
        bool dropped = false;
        while (!dropped && Environment.TickCount64 < deadline)
        {
            try
            {
                slow.Send(gets);
            }
            catch (IOException)
            {
                dropped = true;
            }
            catch (System.Net.Sockets.SocketException)
            {
                dropped = true;
            }

            dropped |= other.Call("INFO").Contains("clients_dropped_for_output:1\r\n", StringComparison.Ordinal);
        }

        Assert.True(dropped, "the slow reader was not dropped");
        Assert.True(slow.WaitForClose(), "the dropped client's connection stayed open");
        Assert.Contains("clients_dropped_for_output:1\r\n", other.Call("INFO"));
        Assert.Equal("+PONG\r\n", other.Call("PING"));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_client_that_does_not_read_waits_for_its_replies_to_drain_and_loses_none(string poller)
    {
        // Default output limit (64 MiB): 100 GETs of 256 KiB are 25 MiB of replies, which would fit;
        // the server still runs only as many as it can send plus about a megabyte, then waits.
        using var server = new InProcessServer(poller, spinMicroseconds: 0);
        using var other = new RawClient(server.Port);
        string value = new string('v', 256 * 1024);
        Assert.Equal("+OK\r\n", other.Call("SET", "v", value));
        using var slow = new RawClient(server.Port, receiveBuffer: 4096);
        slow.Send(string.Concat(Enumerable.Repeat("GET v\r\n", 100)));

        int infoCalls = 0;
        long Gets()
        {
            infoCalls++;
            string info = other.Call("INFO");
            int at = info.IndexOf("total_commands_processed:", StringComparison.Ordinal) + "total_commands_processed:".Length;
            return long.Parse(info[at..info.IndexOf('\r', at)], System.Globalization.CultureInfo.InvariantCulture) - 1 - infoCalls; // less the SET and the INFOs
        }

        // Wait until the server stopped running the pipeline (the same count three times in a row).
        long deadline = Environment.TickCount64 + 20_000;
        long last = -1;
        int same = 0;
        while (same < 3 && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(200);
            long now = Gets();
            same = now == last ? same + 1 : 0;
            last = now;
        }

        Assert.Equal(3, same);
        Assert.InRange(last, 1, 99); // held: not every reply was made and buffered
        Assert.Contains("clients_dropped_for_output:0\r\n", other.Call("INFO"));
        Assert.Equal("+PONG\r\n", other.Call("PING"));

        // Once it reads, every reply comes, whole and in order.
        string expected = $"${value.Length}\r\n{value}\r\n";
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(expected, slow.ReadReplyText());
        }

        Assert.Equal("+PONG\r\n", slow.Call("PING"));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Quit_answers_then_closes(string poller)
    {
        using var server = new InProcessServer(poller);
        using var client = new RawClient(server.Port);
        client.Send("PING\r\nQUIT\r\nPING\r\n");
        Assert.Equal("+PONG\r\n", client.ReadReplyText());
        Assert.Equal("+OK\r\n", client.ReadReplyText());
        Assert.True(client.WaitForClose());
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Steady_state_ping_get_and_set_allocate_nothing(string poller)
    {
        using var server = new InProcessServer(poller);
        using var client = new RawClient(server.Port);
        Assert.Equal("+OK\r\n", client.Call("SET", "key", "0123456789"));
        byte[] batch = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("PING\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\nabcdefghij\r\n", 10)));
        int replyBytes = 10 * ("+PONG\r\n".Length + "$10\r\n0123456789\r\n".Length + "+OK\r\n".Length);

        void RunBatches(int count)
        {
            var scratch = new byte[replyBytes];
            for (int i = 0; i < count; i++)
            {
                client.Send(batch);
                int expected = replyBytes;
                while (expected > 0)
                {
                    expected -= client.Socket.Receive(scratch, 0, expected, System.Net.Sockets.SocketFlags.None);
                }
            }
        }

        RunBatches(3000); // warm-up: tiered JIT, buffers at their working size
        long before = Counter(client.Call("INFO"), "pike_allocated_bytes:");
        RunBatches(3000);
        long after = Counter(client.Call("INFO"), "pike_allocated_bytes:");
        Assert.Equal(0, after - before);
    }

    [Fact]
    public void Idle_clients_hold_no_buffers()
    {
        using var server = new InProcessServer();
        using var probe = new RawClient(server.Port);
        var clients = new RawClient[200];
        for (int round = 0; round < 2; round++)
        {
            // The first round warms the accept path up; the second is measured.
            long before = Counter(probe.Call("INFO"), "pike_allocated_bytes:");
            for (int i = 0; i < clients.Length; i++)
            {
                clients[i] = new RawClient(server.Port);
                Assert.Equal("+PONG\r\n", clients[i].Call("PING"));
            }

            long perClient = (Counter(probe.Call("INFO"), "pike_allocated_bytes:") - before) / clients.Length;
            foreach (RawClient client in clients)
            {
                client.Dispose();
            }

            // Socket, transport, session and parser objects: well under one 16 KiB buffer per client.
            Assert.True(round == 0 || perClient < 4096, $"{perClient} bytes allocated per connected client");
        }
    }

    [Fact]
    public void The_server_process_prints_its_port_and_stops_cleanly_on_SIGTERM()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.RespServer.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { dll, "--port", "0", "--poller", "epoll", "--stats" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        try
        {
            string? line = process.StandardOutput.ReadLine();
            Assert.NotNull(line);
            Assert.Matches(@"^Pike\.Reactor RESP server listening on 127\.0\.0\.1:\d+ \(poller epoll\)$", line);
            int port = int.Parse(line.Split(':')[1].Split(' ')[0]);
            using (var client = new RawClient(port))
            {
                Assert.Equal("+PONG\r\n", client.Call("PING"));
                Assert.Equal(0, Kill(process.Id, 15));
                Assert.True(client.WaitForClose(), "clients were not closed at shutdown");
            }

            Assert.True(process.WaitForExit(15_000), "the server did not exit after SIGTERM");
            Assert.Equal(0, process.ExitCode);
            string rest = process.StandardOutput.ReadToEnd();
            Assert.Contains("stats: commands=1 ", rest);
            Assert.EndsWith("stopped\n", rest);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    [Fact]
    public void The_demo_runs_a_session_and_exits_zero()
    {
        (int exit, string output, string error) = ExternalProcess.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.RespServer.dll"), "--demo"], timeoutSeconds: 60);
        Assert.True(exit == 0, output + error);
        Assert.Contains("> GET greeting\n\"hello from Pike.Reactor\"\n", output);
        Assert.Contains("> MGET greeting visits missing\n1) \"hello from Pike.Reactor\"\n2) \"2\"\n3) (nil)\n", output);
        Assert.EndsWith("demo finished\n", output);
    }

    internal static long Counter(string info, string name)
    {
        int at = info.IndexOf(name, StringComparison.Ordinal) + name.Length;
        return long.Parse(info.AsSpan(at, info.IndexOf('\r', at) - at));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
