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
        // Fixed buffers on both ends, so the kernel does not grow the receiver's: the connection
        // holds well under a round's 240 KB while the peer reads nothing.
        channel.Socket!.SendBufferSize = 16 * 1024;
        peer.ReceiveBufferSize = 32 * 1024;
        byte[] message = new byte[3000];
        byte[] sink = new byte[64 * 1024];
        long received = 0;
        long queuedRounds = 0;

        // One thread does everything, so every round is the same: the burst is written while
        // the peer reads nothing (the queue takes what the socket does not), then the peer is
        // read between polls until the queue is empty.
        void Rounds(int count)
        {
            for (int i = 0; i < count; i++)
            {
                for (int j = 0; j < 80; j++)
                {
                    channel.Write(message);
                }

                if (channel.QueuedBytes > 0)
                {
                    queuedRounds++;
                }

                while (channel.QueuedBytes > 0)
                {
                    while (peer.Available > 0)
                    {
                        received += peer.Receive(sink);
                    }

                    poller.Poll(TimeSpan.FromMilliseconds(10));
                }
            }

            while (peer.Available > 0 || received % (3000L * 80) != 0)
            {
                received += peer.Receive(sink);
            }
        }

        Rounds(200); // JIT, tiering and the chunk pool settle first

        // The runtime's own background work (tiering's call counting, say) can land one small
        // allocation on this thread in any pass; an allocation per flush shows in every pass.
        long allocated = long.MaxValue;
        int passes = 0;
        while (allocated != 0 && passes < 3)
        {
            passes++;
            long drainedBefore = channel.Drained;
            queuedRounds = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            Rounds(200);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(200, queuedRounds);
            Assert.Equal(200, channel.Drained - drainedBefore);
        }

        Assert.Equal(0, allocated);
        Assert.Equal(3000L * 80 * 200 * (passes + 1), received);
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
