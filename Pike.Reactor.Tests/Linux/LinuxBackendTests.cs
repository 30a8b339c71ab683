using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using Pike.Reactor.Linux;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// What only the Linux backends can show: kernel-level pitfalls, errno reporting, allocation.
/// Some tests put sockets at chosen descriptor numbers (dup2), so none runs beside another test.
/// </summary>
[Trait("Lane", "linux")]
[Collection(nameof(ProcessWideCollection))]
[SupportedOSPlatform("linux")]
public class LinuxBackendTests
{
    public static TheoryData<string> LinuxPollers => ["epoll", "poll", "io_uring"];

    [Fact]
    public unsafe void A_stale_kernel_registration_is_removed_not_reported_for_ever()
    {
        // docs/pitfalls.md 2: a dup of a registered descriptor keeps its epoll registration
        // alive after the original closes; an event for a key nobody holds removes it (libuv linux.c).
        using var poller = new EpollPoller();
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var channel = new TestChannel(poller);
        channel.SetSocket(server);
        nint staleKey = channel.RegistrationKey;
        int fd = (int)channel.Fileno;
        int duplicate = TestLibc.dup(fd);
        Assert.True(duplicate >= 0);
        bool numberRetaken = false;
        try
        {
            channel.Close(); // deregisters before closing: nothing stale yet
            peer.Send(new byte[10]);
            poller.Loop(TimeSpan.FromMilliseconds(100));
            Assert.Empty(channel.Calls); // no callback after close

            // Now the number is back on the same socket (dup2) with a registration under the old
            // key that nobody holds: what a descriptor closed without deregistering leaves behind.
            Assert.Equal(fd, TestLibc.dup2(duplicate, fd));
            numberRetaken = true;
            byte* ev = stackalloc byte[16];
            EpollAbi.Current.Write(ev, 0x1, (ulong)(long)staleKey);
            Assert.Equal(0, TestLibc.epoll_ctl(poller.Handle, 1 /* ADD */, fd, ev));
            poller.Poll(TimeSpan.FromSeconds(5));

            // The poller dropped it: modifying it now finds nothing (ENOENT).
            Assert.Equal(-1, TestLibc.epoll_ctl(poller.Handle, 3 /* MOD */, fd, ev));
            Assert.Equal(2, Marshal.GetLastPInvokeError());
            TimeSpan cpuBefore = OsResources.ThreadCpuTime();
            poller.Loop(TimeSpan.FromMilliseconds(200));
            Assert.True(OsResources.ThreadCpuTime() - cpuBefore < TimeSpan.FromMilliseconds(100), "the stale descriptor kept the loop busy");
            Assert.Empty(channel.Calls);
        }
        finally
        {
            TestLibc.close(duplicate);
            if (numberRetaken)
            {
                TestLibc.close(fd);
            }
        }
    }

    [Fact]
    public void A_descriptor_epoll_refuses_leaves_no_trace()
    {
        // docs/pitfalls.md 6 (CPython test_register_file): epoll refuses regular files with EPERM.
        using var poller = new EpollPoller();
        // A datagram socket is watched from the start (a stream one only once it connects or listens).
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        int fd = (int)socket.SafeHandle.DangerousGetHandle();
        int file = TestLibc.open("/proc/self/status", 0);
        Assert.True(file >= 0);
        Assert.Equal(fd, TestLibc.dup2(file, fd)); // the Socket's descriptor is now a regular file
        TestLibc.close(file);
        var channel = new TestChannel(poller);

        var error = Assert.Throws<NativeCallException>(() => channel.SetSocket(socket));
        Assert.Equal(1, error.ErrorNumber); // EPERM
        Assert.Contains($"epoll_ctl(ADD, fd {fd})", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, poller.ChannelCount);
        Assert.Null(channel.Socket);

        // The slot it would have used is free and the poller works on.
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var good = new TestChannel(poller);
        good.SetSocket(server);
        peer.Send(new byte[1]);
        Wait.Until(poller, () => good.Reads == 1, "a read on a good channel");
    }

    [Fact]
    public unsafe void An_eventfd_at_its_limit_is_drained_and_signaled_again()
    {
        // docs/pitfalls.md 7 (mio waker/eventfd.rs): a write that would overflow the counter
        // fails with EAGAIN; the waker empties it and writes again, leaving exactly one signal.
        using var waker = new EventFdWaker();
        ulong nearMax = 0xFFFF_FFFF_FFFF_FFFEul;
        Assert.Equal(8, (int)TestLibc.write(waker.Fd, &nearMax, 8));

        waker.Signal();

        ulong value = 0;
        Assert.Equal(8, (int)TestLibc.read(waker.Fd, &value, 8));
        Assert.Equal(1ul, value);
    }

    [Fact]
    public void A_waker_reports_a_failed_write_naming_the_call()
    {
        var waker = new EventFdWaker();
        int fd = waker.Fd;
        waker.Dispose();
        waker.Dispose();

        var error = Assert.Throws<NativeCallException>(waker.Signal);
        Assert.Equal(9, error.ErrorNumber); // EBADF
        Assert.StartsWith("write(eventfd -1)", error.Message, StringComparison.Ordinal);
        Assert.True(fd >= 0);
    }

    [Theory]
    [MemberData(nameof(LinuxPollers))]
    public unsafe void A_wake_up_counter_left_full_is_drained_by_the_next_Poll(string name)
    {
        using BasePoller poller = PollerFactory.Create(name);
        int wakeFd = poller switch { EpollPoller epoll => epoll.WakeFd, IoUringPoller ring => ring.WakeFd, _ => ((PollPoller)poller).WakeFd };
        ulong nearMax = 0xFFFF_FFFF_FFFF_FFFEul;
        Assert.Equal(8, (int)TestLibc.write(wakeFd, &nearMax, 8));

        poller.Poll(TimeSpan.FromSeconds(10));

        ulong value = 0;
        Assert.Equal(-1, (int)TestLibc.read(wakeFd, &value, 8)); // empty: EAGAIN
        var clock = Stopwatch.StartNew();
        poller.Poll(TimeSpan.FromMilliseconds(100));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(99), "a drained wake-up must not wake the loop again");
    }

    [Theory]
    [MemberData(nameof(LinuxPollers))]
    public void A_poller_nobody_disposed_releases_its_descriptors_when_collected(string name)
    {
        CreateAndDrop(name); // warm-up: what the first creation loads stays loaded
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int before = OsResources.OpenHandles();

        CreateAndDrop(name);
        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.Equal(before, OsResources.OpenHandles());

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static void CreateAndDrop(string name) => PollerFactory.Create(name).Poll(TimeSpan.Zero);
    }

    [Fact]
    public void The_provider_refuses_names_it_does_not_have()
    {
        var provider = new LinuxPollerProvider();
        Assert.Equal(["epoll", "poll", "io_uring"], provider.Names);
        PollerAvailability bogus = provider.Probe("kqueue");
        Assert.False(bogus.Available);
        Assert.Contains("kqueue", bogus.Reason, StringComparison.Ordinal);
        Assert.True(provider.Probe("epoll").Available);
        Assert.Throws<PollerUnavailableException>(() => provider.Create("kqueue"));
        Assert.Throws<ArgumentNullException>(() => provider.Probe(null!));
        Assert.Throws<ArgumentNullException>(() => provider.Create(null!));
    }

    [Theory]
    [MemberData(nameof(LinuxPollers))]
    public void An_interrupted_wait_resumes_with_the_time_that_remains(string name)
    {
        // docs/pitfalls.md 4: EINTR is retried with what remains, not returned early nor restarted in full.
        using BasePoller poller = PollerFactory.Create(name);
        using var _ = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, context => context.Cancel = true);
        int tid = 0;
        using var started = new ManualResetEventSlim();
        TimeSpan elapsed = TimeSpan.Zero;
        var loop = new Thread(() =>
        {
            tid = TestLibc.gettid();
            started.Set();
            var clock = Stopwatch.StartNew();
            poller.Poll(TimeSpan.FromMilliseconds(600));
            elapsed = clock.Elapsed;
        });
        loop.Start();
        started.Wait();
        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(50);
            TestLibc.tgkill(TestLibc.getpid(), tid, 17 /* SIGCHLD */);
        }

        Assert.True(loop.Join(TimeSpan.FromSeconds(15)));
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(599), $"an interrupted Poll returned after {elapsed}");
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"an interrupted Poll restarted its whole wait: {elapsed}");
    }

    [Fact]
    public void A_small_event_buffer_grows_and_a_burst_is_dispatched_in_one_Poll()
    {
        // docs/pitfalls.md 9.
        using var poller = new EpollPoller(eventCapacity: 4);
        var peers = new Socket[100];
        var channels = new TestChannel[100];
        for (int i = 0; i < peers.Length; i++)
        {
            (peers[i], Socket server) = Loopback.Pair();
            channels[i] = new TestChannel(poller);
            channels[i].SetSocket(server);
            peers[i].Send(new byte[1]);
        }

        Wait.For(() => Array.TrueForAll(channels, c => TestChannel.HasInput(c)), "data at every channel");
        poller.Poll(TimeSpan.FromSeconds(5));

        Assert.All(channels, c => Assert.Equal(1, c.Reads));
        foreach (Socket peer in peers)
        {
            peer.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(LinuxPollers))]
    public void Steady_state_dispatch_allocates_nothing(string name)
    {
        using BasePoller poller = PollerFactory.Create(name);
        (Socket peer, Socket server) = Loopback.Pair();
        using var _ = peer;
        var channel = new PingPong(poller);
        channel.SetSocket(server);
        byte[] one = [1];
        byte[] reply = new byte[1];

        void RoundTrips(int count)
        {
            for (int i = 0; i < count; i++)
            {
                peer.Send(one);
                int before = channel.Count;
                while (channel.Count == before)
                {
                    poller.Poll(TimeSpan.FromSeconds(5));
                }

                peer.Receive(reply);
            }
        }

        RoundTrips(2000); // JIT and tiering settle first
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        RoundTrips(1000);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Failed_native_calls_name_the_call_and_the_error()
    {
        using var poller = new EpollPoller();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new EpollPoller(0));
        Assert.Equal("eventCapacity", error.ParamName);
    }

    private sealed class PingPong(BasePoller poller) : Transport(poller)
    {
        private readonly byte[] _buffer = new byte[16];

        public int Count { get; private set; }

        protected internal override void HandleRead()
        {
            int n = Recv(_buffer);
            if (n > 0)
            {
                Send(_buffer.AsSpan(0, n));
                Count++;
            }
        }
    }
}
