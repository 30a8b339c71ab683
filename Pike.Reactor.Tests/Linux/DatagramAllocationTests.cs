using System;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// A datagram echo in steady state allocates nothing on the loop thread, one datagram a call
/// and in batches (recvmmsg): the server and its client are datagram transports on one poller,
/// driven from this thread.
/// </summary>
[Trait("Lane", "linux")]
public class DatagramAllocationTests
{
    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (string name in new[] { "epoll", "poll", "io_uring" })
        {
            data.Add(name, false);
            data.Add(name, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_echo_of_datagrams_allocates_nothing_per_datagram(string name, bool batched)
    {
        using BasePoller poller = PollerFactory.Create(name);
        var from = new SocketAddress(AddressFamily.InterNetwork);
        var batch = new DatagramBatch(16, 256);
        byte[] buffer = new byte[256];
        byte[] payload = new byte[64];
        TestDatagram server = TestDatagram.BoundToLoopback(poller);
        server.RecordCalls = false;
        server.OnRead = s =>
        {
            if (batched)
            {
                int count;
                while ((count = s.ReceiveBatch(batch)) > 0)
                {
                    for (int i = 0; i < count; i++)
                    {
                        s.TrySendTo(batch.Datagram(i), batch.Address(i));
                    }
                }
            }
            else
            {
                while (s.TryReceiveFrom(buffer, from, out int length))
                {
                    s.TrySendTo(buffer.AsSpan(0, length), from);
                }
            }
        };

        long echoes = 0;
        var client = new TestDatagram(poller) { RecordCalls = false };
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        client.OnRead = c =>
        {
            while (c.TryReceive(buffer, out _))
            {
                echoes++;
                c.TrySend(payload);
            }
        };
        client.OnConnect = c =>
        {
            for (int i = 0; i < 8; i++)
            {
                c.TrySend(payload);
            }
        };
        client.Connect(server.EndPoint);

        void Echoes(long count)
        {
            long target = echoes + count;
            long start = System.Diagnostics.Stopwatch.GetTimestamp(); // no Stopwatch object: it would be counted
            while (echoes < target)
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(start) > TimeSpan.FromSeconds(30))
                {
                    Assert.Fail($"{target - echoes} echoes still missing after 30 s (a datagram dropped?)");
                }

                poller.Poll(TimeSpan.FromMilliseconds(100));
            }
        }

        Echoes(2_000); // warm-up: JIT tiers, the timer and batch state
        long smallest = long.MaxValue;
        for (int pass = 0; pass < 3 && smallest > 0; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Echoes(5_000);
            smallest = Math.Min(smallest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, smallest);
        Assert.Empty(server.Errors);
        Assert.Empty(client.Errors);
    }
}
