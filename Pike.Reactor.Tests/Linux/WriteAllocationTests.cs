using System;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>Write in steady state allocates nothing: when the socket takes the bytes at once, and when they are queued in pooled chunks and flushed in gathering sends.</summary>
[Trait("Lane", "linux")]
public class WriteAllocationTests
{
    public static TheoryData<string> LinuxPollers => ["epoll", "poll", "io_uring"];

    [Theory]
    [MemberData(nameof(LinuxPollers))]
    public void Writes_the_socket_takes_at_once_allocate_nothing(string name)
    {
        using BasePoller poller = PollerFactory.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        using var reader = new DrainingPeer(peer);
        byte[] message = new byte[100];
        long queuedWrites = 0;

        void Writes(int count)
        {
            for (int i = 0; i < count; i++)
            {
                channel.Write(message);
                if (channel.QueuedBytes > 0)
                {
                    queuedWrites++;
                    while (channel.QueuedBytes > 0)
                    {
                        poller.Poll(TimeSpan.FromSeconds(5));
                    }
                }
            }
        }

        Writes(20_000); // JIT and tiering settle first
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        Writes(20_000);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal(0, allocated);
        Assert.True(reader.Received >= 100L * 20_000, "the peer reads what was written");
    }

    [Theory]
    [MemberData(nameof(LinuxPollers))]
    public void Queued_writes_flushed_in_gathering_sends_allocate_nothing(string name)
    {
        using BasePoller poller = PollerFactory.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        // Not a TestChannel: its record of every call would allocate as it grows.
        var channel = new DrainCountingChannel(poller);
        channel.SetSocket(server);
        channel.Socket!.SendBufferSize = 16 * 1024; // the socket takes part; the rest is queued
        using var reader = new DrainingPeer(peer);
        byte[] message = new byte[3000];

        void Rounds(int count)
        {
            for (int i = 0; i < count; i++)
            {
                for (int j = 0; j < 40; j++)
                {
                    channel.Write(message); // 120 KB a round: more than the socket takes at once
                }

                while (channel.QueuedBytes > 0)
                {
                    poller.Poll(TimeSpan.FromSeconds(5));
                }
            }
        }

        Rounds(200); // JIT, tiering and the chunk pool settle first
        long drainedBefore = channel.Drained;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        Rounds(200);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        long queuedRounds = channel.Drained - drainedBefore;
        Assert.True(queuedRounds >= 100, $"only {queuedRounds} of 200 rounds queued: the test did not exercise the queue");
        Assert.Equal(0, allocated);
        Wait.For(() => reader.Received >= 3000L * 40 * 400, "the peer reading all that was written");
    }

    /// <summary>Counts the times its queue emptied; nothing else.</summary>
    private sealed class DrainCountingChannel(BasePoller poller) : Transport(poller)
    {
        public long Drained { get; private set; }

        protected internal override void HandleDrained() => Drained++;
    }

    /// <summary>Reads and drops everything on a thread of its own until the socket closes.</summary>
    private sealed class DrainingPeer : IDisposable
    {
        private readonly Socket _socket;
        private readonly Thread _thread;
        private long _received;

        public DrainingPeer(Socket socket)
        {
            _socket = socket;
            _thread = new Thread(() =>
            {
                byte[] buffer = new byte[256 * 1024];
                try
                {
                    int n;
                    while ((n = _socket.Receive(buffer)) > 0)
                    {
                        Interlocked.Add(ref _received, n);
                    }
                }
                catch (SocketException)
                {
                }
                catch (ObjectDisposedException)
                {
                }
            })
            { IsBackground = true };
            _thread.Start();
        }

        public long Received => Interlocked.Read(ref _received);

        public void Dispose()
        {
            _socket.Shutdown(SocketShutdown.Both);
            _thread.Join(TimeSpan.FromSeconds(10));
        }
    }
}
