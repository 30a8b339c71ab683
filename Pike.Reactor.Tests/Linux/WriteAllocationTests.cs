using System;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>Write in steady state allocates nothing: neither when the socket takes the bytes at once nor when they queue and a gathering send flushes them.</summary>
[Trait("Lane", "linux")]
public class WriteAllocationTests
{
    public static TheoryData<string> LinuxPollers => ["epoll", "poll"];

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
    public void Writes_that_queue_and_flush_in_gathering_sends_allocate_nothing(string name)
    {
        using BasePoller poller = PollerFactory.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        // A small kernel buffer, so that most writes queue, and the default watermarks (64 KiB,
        // 16 KiB), so that several pooled chunks wait behind each other and flushes gather them.
        // (Far more chunks outstanding than ArrayPool.Shared keeps per core, a 1 MiB watermark
        // of 4 KiB writes for one, makes the pool allocate: that is the pool's bound, not the queue's.)
        channel.Socket!.SendBufferSize = 16 * 1024;
        using var reader = new DrainingPeer(peer);
        byte[] piece = new byte[4096];
        long flushed = 0;

        void Cycles(int count)
        {
            for (int i = 0; i < count; i++)
            {
                while (channel.IsWritable)
                {
                    channel.Write(piece);
                }

                while (!channel.IsWritable)
                {
                    poller.Poll(TimeSpan.FromSeconds(5));
                }

                flushed++;
            }
        }

        Cycles(2000);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        Cycles(2000);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal(4000, flushed);
        Assert.Equal(0, allocated);
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
