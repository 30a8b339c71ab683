using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Proxy.Tests;

/// <summary>The proxy sample as a user runs it: a child process between redis-cli (or raw sockets) and redis-server.</summary>
[Trait("Lane", "proxy")]
public sealed class ProxyTests
{
    private const int BigValue = 100 << 20;

    [Fact]
    public void Forwards_a_100_MiB_value_between_redis_cli_and_redis_server_byte_exact()
    {
        using var redis = new RedisServer();
        using var proxy = new ProxyProcess(redis.Address);
        string file = Path.Combine(Path.GetTempPath(), $"pike-proxy-{Guid.NewGuid():N}.bin");
        try
        {
            byte[] value = RandomNumberGenerator.GetBytes(BigValue);
            File.WriteAllBytes(file, value);
            byte[] expected = SHA256.HashData(value);
            value = null!;

            (int exit, string output, string error) = Net.Run("redis-cli", ["-p", proxy.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-x", "SET", "big"], stdinFile: file);
            Assert.True(exit == 0, error);
            Assert.Equal("OK", output.Trim());

            using Socket client = proxy.Connect();
            client.ReceiveTimeout = 60_000;
            client.Send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"u8);
            Assert.Equal("$" + BigValue.ToString(System.Globalization.CultureInfo.InvariantCulture), Net.ReadLine(client));
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[256 * 1024];
            long remaining = BigValue;
            while (remaining > 0)
            {
                int n = client.Receive(buffer, 0, (int)Math.Min(buffer.Length, remaining), SocketFlags.None);
                Assert.True(n > 0, "the reply ended early: " + proxy.Log());
                hash.AppendData(buffer, 0, n);
                remaining -= n;
            }

            Assert.True(Net.ReadExactly(client, buffer.AsSpan(0, 2)));
            Assert.Equal("\r\n"u8.ToArray(), buffer[..2]);
            Assert.Equal(expected, hash.GetHashAndReset());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Keeps_its_memory_bounded_for_a_client_that_reads_at_2_MB_per_second()
    {
        using var redis = new RedisServer();
        using var proxy = new ProxyProcess(redis.Address);
        byte[] value = RandomNumberGenerator.GetBytes(BigValue);
        using Socket client = proxy.Connect();
        client.ReceiveTimeout = 60_000;
        client.Send(Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${BigValue}\r\n"));
        client.Send(value);
        client.Send("\r\n"u8);
        Assert.Equal("+OK", Net.ReadLine(client));
        long afterSet = proxy.ResidentBytes();

        // GET: redis-server sends 100 MiB at once; the proxy must not hold what the client has not read.
        client.Send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"u8);
        Assert.Equal("$" + BigValue.ToString(System.Globalization.CultureInfo.InvariantCulture), Net.ReadLine(client));
        const long rate = 2_000_000; // bytes per second
        const int toRead = 24 << 20;
        byte[] buffer = new byte[16 * 1024];
        var clock = Stopwatch.StartNew();
        long read = 0;
        long maxResident = afterSet;
        int samples = 0;
        TimeSpan nextSample = TimeSpan.Zero;
        while (read < toRead)
        {
            int n = client.Receive(buffer, 0, (int)Math.Min(buffer.Length, toRead - read), SocketFlags.None);
            Assert.True(n > 0, "the reply ended early: " + proxy.Log());
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(value.AsSpan((int)read, n)), $"the reply differs at byte {read}");
            read += n;
            if (clock.Elapsed >= nextSample)
            {
                maxResident = Math.Max(maxResident, proxy.ResidentBytes());
                samples++;
                nextSample = clock.Elapsed + TimeSpan.FromMilliseconds(200);
            }

            TimeSpan due = TimeSpan.FromSeconds((double)read / rate);
            if (due > clock.Elapsed)
            {
                Thread.Sleep(due - clock.Elapsed);
            }
        }

        maxResident = Math.Max(maxResident, proxy.ResidentBytes());
        Assert.True(samples >= 20, $"only {samples} samples");
        Assert.True(maxResident < 64L << 20, $"the proxy's RSS reached {maxResident >> 20} MiB (after the SET: {afterSet >> 20} MiB)");
    }

    [Fact]
    public void Delivers_the_whole_reply_after_the_client_half_closes()
    {
        // The upstream answers only once it has read the end of the request: it sees the end
        // only if the proxy passes the client's half-close on, and the client gets all of the
        // reply only if the proxy keeps the other direction open until the upstream is done.
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        upstream.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        upstream.Listen();
        byte[] reply = RandomNumberGenerator.GetBytes(8 << 20);
        byte[] request = RandomNumberGenerator.GetBytes(1 << 20);
        var server = new Thread(() =>
        {
            using Socket accepted = upstream.Accept();
            accepted.ReceiveTimeout = 60_000;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = accepted.Receive(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
            }

            accepted.Send(hash.GetHashAndReset());
            accepted.Send(reply);
            accepted.Shutdown(SocketShutdown.Send);
            while (accepted.Receive(buffer) > 0)
            {
            }
        })
        { IsBackground = true };
        server.Start();

        using var proxy = new ProxyProcess("127.0.0.1:" + ((IPEndPoint)upstream.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using Socket client = proxy.Connect();
        client.ReceiveTimeout = 60_000;
        client.Send(request);
        client.Shutdown(SocketShutdown.Send);

        var received = new MemoryStream();
        byte[] chunk = new byte[64 * 1024];
        int got;
        while ((got = client.Receive(chunk)) > 0)
        {
            received.Write(chunk, 0, got);
        }

        byte[] all = received.ToArray();
        Assert.Equal(32 + reply.Length, all.Length);
        Assert.Equal(SHA256.HashData(request), all[..32]);
        Assert.True(all.AsSpan(32).SequenceEqual(reply), "the reply differs");
        Assert.True(server.Join(TimeSpan.FromSeconds(20)), "the upstream never saw the end of the connection");
    }

    [Fact]
    public void Redis_answers_a_client_that_half_closed_after_its_request()
    {
        using var redis = new RedisServer();
        using var proxy = new ProxyProcess(redis.Address);
        using Socket client = proxy.Connect();
        client.ReceiveTimeout = 30_000;
        client.Send("PING\r\nECHO hello\r\n"u8);
        client.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        byte[] chunk = new byte[1024];
        int got;
        while ((got = client.Receive(chunk)) > 0)
        {
            received.Write(chunk, 0, got);
        }

        Assert.Equal("+PONG\r\n$5\r\nhello\r\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public void A_refused_upstream_closes_the_client()
    {
        int closedPort = Net.FreePort();
        using var proxy = new ProxyProcess("127.0.0.1:" + closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using Socket client = proxy.Connect();
        client.ReceiveTimeout = 20_000;
        Assert.True(ReadsEndOrReset(client), "the client was not closed");

        // The proxy's stderr reaches the test asynchronously: wait for the line, with a deadline.
        var clock = Stopwatch.StartNew();
        while (!proxy.Log().Contains("upstream", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            Thread.Sleep(20);
        }

        Assert.Contains("upstream", proxy.Log(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_idle_pair_is_closed_after_the_idle_timeout_and_a_busy_one_is_not()
    {
        using var redis = new RedisServer();
        using var proxy = new ProxyProcess(redis.Address, "--idle-timeout", "0.5");
        using Socket idle = proxy.Connect();
        using Socket busy = proxy.Connect();
        idle.ReceiveTimeout = 20_000;
        busy.ReceiveTimeout = 20_000;
        byte[] pong = new byte[7];
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            busy.Send("PING\r\n"u8);
            Assert.True(Net.ReadExactly(busy, pong), "the busy client was closed");
            Thread.Sleep(100);
        }

        Assert.True(ReadsEndOrReset(idle), "the idle client was not closed");
        busy.Send("PING\r\n"u8);
        Assert.True(Net.ReadExactly(busy, pong));
        Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(pong));
    }

    private static bool ReadsEndOrReset(Socket socket)
    {
        try
        {
            return socket.Receive(new byte[16]) == 0;
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }
}
