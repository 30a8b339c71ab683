using System;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class EchoTests
{
    public static TheoryData<string, int> PollersAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Pollers.Names())
        {
            foreach (int size in new[] { 1, 1000, 65_536, 1 << 20, 8 << 20 })
            {
                data.Add(name, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PollersAndSizes))]
    public void Echo_round_trips_every_byte_through_partial_sends_and_deferred_writes(string name, int size)
    {
        using BasePoller poller = Pollers.Create(name);
        using var listener = new TestListener(poller, ServeEcho);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);

        // Small kernel buffers so that large payloads cannot be sent in one call.
        client.Socket!.SendBufferSize = 16 * 1024;
        client.Socket.ReceiveBufferSize = 16 * 1024;
        var echo = new EchoClient(client, size);
        client.Connect(listener.EndPoint);

        echo.WaitForAll(poller);

        Assert.Equal(0, echo.Sender.Pending);
        if (size >= 1 << 20)
        {
            // The payload outgrew the socket buffers: sends were partial and resumed in HandleWrite.
            Assert.True(echo.Sender.PartialSends > 0, "expected partial sends");
            Assert.True(client.Writes > 0, "expected deferred writes");
        }
    }

    /// <summary>The server half of an echo: what <paramref name="server"/> reads it writes back, keeping what the socket does not take.</summary>
    internal static void ServeEcho(TestChannel server)
    {
        var sender = new BufferedSender(server);
        var buffer = new byte[64 * 1024];
        server.OnRead = s =>
        {
            int n;
            while ((n = s.Recv(buffer)) > 0)
            {
                sender.Write(buffer.AsSpan(0, n));
            }
        };
        server.OnWrite = _ => sender.Flush();
    }

    /// <summary>The client half: once connected, sends <c>size</c> random bytes and collects the echo.</summary>
    internal sealed class EchoClient
    {
        private readonly byte[] _payload;
        private readonly byte[] _received;
        private int _count;

        public EchoClient(TestChannel client, int size)
        {
            _payload = new byte[size];
            new Random(size).NextBytes(_payload);
            _received = new byte[size];
            Sender = new BufferedSender(client);
            client.OnConnect = _ => Sender.Write(_payload);
            client.OnWrite = _ => Sender.Flush();
            client.OnRead = c =>
            {
                int n;
                while (_count < size && (n = c.Recv(_received.AsSpan(_count))) > 0)
                {
                    _count += n;
                }
            };
        }

        public BufferedSender Sender { get; }

        /// <summary>Polls until every byte came back, then checks them.</summary>
        public void WaitForAll(BasePoller poller)
        {
            Wait.Until(poller, () => _count == _payload.Length, $"{_payload.Length} bytes echoed (got {_count})", TimeSpan.FromSeconds(60));
            Assert.True(_payload.AsSpan().SequenceEqual(_received), "the echo differs from what was sent");
        }
    }

    /// <summary>Keeps what the socket did not take and sends it from HandleWrite.</summary>
    internal sealed class BufferedSender(Transport transport)
    {
        private byte[] _pending = new byte[1024];
        private int _start;
        private int _end;

        public int Pending => _end - _start;

        public int PartialSends { get; private set; }

        public void Write(ReadOnlySpan<byte> data)
        {
            if (Pending == 0)
            {
                int sent = transport.Send(data);
                if (sent == data.Length)
                {
                    return;
                }

                PartialSends++;
                data = data[sent..];
            }

            Append(data);
        }

        public void Flush()
        {
            while (Pending > 0)
            {
                int sent = transport.Send(_pending.AsSpan(_start, Pending));
                _start += sent;
                if (sent == 0 || Pending > 0)
                {
                    if (sent > 0)
                    {
                        PartialSends++;
                    }

                    return;
                }
            }

            _start = _end = 0;
        }

        private void Append(ReadOnlySpan<byte> data)
        {
            if (_end + data.Length > _pending.Length)
            {
                int live = Pending;
                byte[] grown = _pending.Length - live >= data.Length ? _pending : new byte[Math.Max(_pending.Length * 2, live + data.Length)];
                Buffer.BlockCopy(_pending, _start, grown, 0, live);
                _pending = grown;
                _start = 0;
                _end = live;
            }

            data.CopyTo(_pending.AsSpan(_end));
            _end += data.Length;
        }
    }
}
