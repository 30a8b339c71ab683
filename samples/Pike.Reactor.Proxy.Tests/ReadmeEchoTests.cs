using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading;
using Pike.Reactor;
using Xunit;

namespace Pike.Reactor.Proxy.Tests;

/// <summary>
/// The README's usage example, copied here verbatim (the two classes), against a client that
/// writes 64 MiB before it starts reading: every byte must come back, in order. Here, outside
/// the core's test assembly, the code compiles as a user's does (no access to internals).
/// </summary>
[Trait("Lane", "proxy")]
public class ReadmeEchoTests
{
    [Fact]
    public void The_README_echo_returns_64_MiB_sent_before_the_client_reads()
    {
        using BasePoller poller = PollerFactory.Create();
        var server = new EchoServer(poller);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(server.LocalEndPoint!);
        client.ReceiveTimeout = 20_000;

        byte[] data = RandomNumberGenerator.GetBytes(64 << 20);
        long sent = 0;
        long lastProgress = Stopwatch.GetTimestamp();
        bool written = false;
        var writer = new Thread(() =>
        {
            for (int offset = 0; offset < data.Length; offset += 64 * 1024)
            {
                client.Send(data, offset, 64 * 1024, SocketFlags.None);
                Interlocked.Exchange(ref sent, offset + (64 * 1024));
                Interlocked.Exchange(ref lastProgress, Stopwatch.GetTimestamp());
            }

            client.Shutdown(SocketShutdown.Send); // done sending; the echo of the tail still comes
            Volatile.Write(ref written, true);
        })
        { IsBackground = true };
        writer.Start();

        // The client reads only once it has written 8 MiB, or once its writes are stuck (the
        // echo stopped reading because nobody reads its output): until then the server's
        // writes find a full socket.
        byte[]? echoed = null;
        var reader = new Thread(() =>
        {
            while (Interlocked.Read(ref sent) < (8 << 20) && Stopwatch.GetElapsedTime(Interlocked.Read(ref lastProgress)) < TimeSpan.FromMilliseconds(500))
            {
                Thread.Sleep(5);
            }

            byte[] received = new byte[data.Length];
            int length = 0;
            int n;
            while (length < received.Length && (n = client.Receive(received, length, received.Length - length, SocketFlags.None)) > 0)
            {
                length += n;
            }

            Volatile.Write(ref echoed, received[..length]);
        })
        { IsBackground = true };
        reader.Start();

        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref echoed) is null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the echo did not come back within 60 s");
            poller.Loop(TimeSpan.FromMilliseconds(50));
        }

        Assert.True(writer.Join(TimeSpan.FromSeconds(10)) && Volatile.Read(ref written), "the client's writes did not finish");
        Assert.Equal(data.Length, echoed!.Length);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(echoed));
        server.Close();
    }

    // ---- from README.md, "Usage", verbatim ----
    sealed class EchoServer(BasePoller poller) : Listener(poller)
    {
        protected override void HandleAccept(Socket accepted) => new Echo(Poller).SetSocket(accepted);
    }

    sealed class Echo(BasePoller poller) : Transport(poller)
    {
        private readonly byte[] _buffer = new byte[16384];

        protected override void HandleRead()
        {
            int n = Recv(_buffer);          // 0: would block (spurious readiness); EOF throws → HandleClose
            Write(_buffer.AsSpan(0, n));    // what the socket does not take now is queued, sent when it can
        }

        // Back-pressure: past HighWatermark (64 KiB queued) stop reading, resume at LowWatermark.
        protected override void HandleWritabilityChanged()
        {
            if (IsWritable) ResumeReading(); else PauseReading();
        }

        // The peer sent its last byte: send what is still queued, then close (a reset: close now).
        protected override void HandleClose(CloseReason reason)
        {
            if (reason == Pike.Reactor.CloseReason.EndOfStream) CloseAfterFlush(TimeSpan.FromSeconds(10)); else Close();
        }
    }
    // ---- end of the README's code ----
}
