using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Pike.Reactor.Bench;

/// <summary>
/// Bytes a server allocates per request in steady state, from its own INFO counters
/// (<c>pike_allocated_bytes</c>, <c>total_commands_processed</c>): one connection, a warm-up,
/// INFO, a run of the request, INFO again, all on that connection so that no accept is counted.
/// </summary>
internal static class AllocationProbe
{
    public static double BytesPerRequest(int port, string request, int replyBytes, int count)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(IPAddress.Loopback, port);
        byte[] batch = Encoding.ASCII.GetBytes(Repeat(request, 16));
        Run(socket, batch, 20_000 / 16, replyBytes);
        (long allocated0, long commands0) = Counters(socket);
        Run(socket, batch, count / 16, replyBytes);
        (long allocated1, long commands1) = Counters(socket);
        long requests = commands1 - commands0 - 1; // the second INFO counts itself
        return requests <= 0 ? double.NaN : (allocated1 - allocated0) / (double)requests;
    }

    private static string Repeat(string request, int times)
    {
        var text = new StringBuilder();
        for (int i = 0; i < times; i++)
        {
            text.Append(request).Append("\r\n");
        }

        return text.ToString();
    }

    // Sends the batch and reads until all its replies came back: every reply to a given
    // request has the same length here (PONG, OK, or the same value).
    private static void Run(Socket socket, byte[] batch, int batches, int replyBytes)
    {
        var buffer = new byte[65536];
        for (int b = 0; b < batches; b++)
        {
            socket.Send(batch);
            int expected = replyBytes * 16;
            while (expected > 0)
            {
                int n = socket.Receive(buffer, 0, Math.Min(expected, buffer.Length), SocketFlags.None);
                if (n == 0)
                {
                    throw new InvalidOperationException("the server closed the probe connection");
                }

                expected -= n;
            }
        }
    }

    private static (long Allocated, long Commands) Counters(Socket socket)
    {
        socket.Send("INFO\r\n"u8);
        string info = ServerProcess.ReadReply(socket);
        return (Field(info, "pike_allocated_bytes:"), Field(info, "total_commands_processed:"));
    }

    private static long Field(string info, string name)
    {
        int at = info.IndexOf(name, StringComparison.Ordinal);
        if (at < 0)
        {
            throw new InvalidOperationException($"INFO has no {name}");
        }

        at += name.Length;
        int end = info.IndexOf('\r', at);
        return long.Parse(info.AsSpan(at, end - at), CultureInfo.InvariantCulture);
    }
}
