using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>
/// One loop per core: groups of 2 and 4 loops serve a thousand connections, spread by hand-over
/// (every OS) or by SO_REUSEPORT listeners (Linux), and give every descriptor back when disposed.
/// Counts the process's descriptors, so it runs alone.
/// </summary>
[Trait("Lane", "contract")]
[Collection(nameof(ProcessWideCollection))]
public class PollerGroupTests
{
    private const int Connections = 1000;

    public static TheoryData<string, int> KernelPollersAndLoops()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Pollers.KernelNames())
        {
            data.Add(name, 2);
            data.Add(name, 4);
        }

        return data;
    }

    public static bool ReusePortBalances => OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD();

    [Theory]
    [MemberData(nameof(KernelPollersAndLoops))]
    public void Hand_over_spreads_a_thousand_connections_in_turn_and_releases_everything(string name, int loops)
    {
        // The runtime's own lazily opened descriptors first (assemblies mapped on first use).
        ScaleTests.WarmUp(name);
        Serve(name, loops, 10, handOver: true);
        int handlesBefore = OsResources.OpenHandles();

        int[] served = Serve(name, loops, Connections, handOver: true);

        OsResources.AssertNoLeak(handlesBefore);
        Assert.All(served, count => Assert.Equal(Connections / loops, count));
    }

    [Theory(Skip = "SO_REUSEPORT spreads connections on Linux and FreeBSD only", SkipUnless = nameof(ReusePortBalances))]
    [MemberData(nameof(KernelPollersAndLoops))]
    public void Listeners_sharing_a_port_serve_a_thousand_connections_on_every_loop_and_release_everything(string name, int loops)
    {
        ScaleTests.WarmUp(name);
        Serve(name, loops, 10, handOver: false);
        int handlesBefore = OsResources.OpenHandles();

        int[] served = Serve(name, loops, Connections, handOver: false);

        OsResources.AssertNoLeak(handlesBefore);
        int total = 0;
        foreach (int count in served)
        {
            Assert.True(count > 0, $"a loop served none of {Connections}: {string.Join(", ", served)}");
            total += count;
        }

        Assert.Equal(Connections, total);
    }

    [Fact]
    public void Sharing_a_port_is_taken_where_the_kernel_balances_it_and_refused_elsewhere()
    {
        using var group = new PollerGroup(2);
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        Func<BasePoller, Listener> create = poller => new AdoptingListener(poller, (_, s) => s.Dispose());

        if (ReusePortBalances)
        {
            IReadOnlyList<Listener> listeners = group.ListenOnEach(loopback, create);

            Assert.Equal(2, listeners.Count);
            Assert.All(listeners, l => Assert.True(l.ReusePort));
            Assert.Equal(((IPEndPoint)listeners[0].LocalEndPoint!).Port, ((IPEndPoint)listeners[1].LocalEndPoint!).Port);
        }
        else
        {
            Assert.Throws<PlatformNotSupportedException>(() => group.ListenOnEach(loopback, create));
            using BasePoller poller = PollerFactory.Create();
            var listener = new AdoptingListener(poller, (_, s) => s.Dispose());
            Assert.Throws<PlatformNotSupportedException>(() => listener.ReusePort = true);
            Assert.False(listener.ReusePort);
        }
    }

    [Theory]
    [MemberData(nameof(KernelPollersAndLoops))]
    public void Disposing_while_connections_are_handed_over_leaves_no_descriptor(string name, int loops)
    {
        ScaleTests.WarmUp(name);
        Serve(name, loops, 10, handOver: true);
        int handlesBefore = OsResources.OpenHandles();
        var clients = new List<Socket>();
        var group = new PollerGroup(loops, () => Pollers.Create(name));
        try
        {
            EndPoint endpoint = group.ListenAndHandOver(new IPEndPoint(IPAddress.Loopback, 0), (poller, socket) =>
            {
                var channel = new TestChannel(poller);
                EchoTests.ServeEcho(channel);
                channel.SetSocket(socket);
            }).LocalEndPoint!;
            for (int i = 0; i < 200; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                client.Connect(endpoint); // in the backlog at once; accepted and handed over meanwhile
            }
        }
        finally
        {
            group.Dispose(); // while hand-overs are still on their way
            foreach (Socket client in clients)
            {
                client.Dispose();
            }
        }

        OsResources.AssertNoLeak(handlesBefore);
    }

    [Fact]
    public void Listening_from_a_loop_thread_is_refused()
    {
        using var group = new PollerGroup(1);
        Exception? refused = null;
        using var done = new ManualResetEventSlim();
        group.Pollers[0].Post(() =>
        {
            refused = Record.Exception(() => group.ListenAndHandOver(new IPEndPoint(IPAddress.Loopback, 0), (_, s) => s.Dispose()));
            done.Set();
        });

        Assert.True(done.Wait(TimeSpan.FromSeconds(10)), "the loop did not wait for itself");
        Assert.IsType<InvalidOperationException>(refused);
    }

    [Fact]
    public void An_exception_escaping_a_loop_stops_the_group_and_Dispose_rethrows_it()
    {
        var group = new PollerGroup(2);
        using var reached = new ManualResetEventSlim();
        group.Pollers[1].Post(() =>
        {
            reached.Set();
            throw new InvalidOperationException("boom");
        });
        bool ran = reached.Wait(TimeSpan.FromSeconds(10));

        var error = Assert.Throws<AggregateException>(group.Dispose);

        Assert.True(ran);
        Assert.Equal("boom", Assert.Single(error.InnerExceptions).Message);
    }

    [Fact]
    public void With_an_Error_handler_the_loop_goes_on()
    {
        using var group = new PollerGroup(2);
        var errors = new List<string>();
        group.Error = (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error.Message);
            }
        };
        using var after = new ManualResetEventSlim();
        group.Pollers[0].Post(() => throw new InvalidOperationException("first"));
        group.Pollers[0].Post(after.Set);

        Assert.True(after.Wait(TimeSpan.FromSeconds(10)), "the loop ran on after the exception");
        lock (errors)
        {
            Assert.Equal(["first"], errors);
        }
    }

    [Fact]
    public void A_loop_whose_wait_fails_every_time_is_restarted_with_growing_delays_not_in_a_busy_loop()
    {
        var failing = new FailingPoller();
        var group = new PollerGroup(1, () => failing);
        int faults = 0;
        int afterPause;
        var stopping = new System.Diagnostics.Stopwatch();
        try
        {
            group.Error = (_, _) => Interlocked.Increment(ref faults);
            failing.Failing = true; // only now: a fault before the handler is set would stop the group
            Wait.For(() => Volatile.Read(ref faults) >= 3, "the failing wait reported");
            Thread.Sleep(400);
            afterPause = Volatile.Read(ref faults);
        }
        finally
        {
            stopping.Start();
            group.Dispose();
        }

        // Restarted at once this would be hundreds of thousands in 0.4 s; with 1, 2, 4, ... ms
        // between restarts it is about ten.
        Assert.InRange(afterPause, 3, 30);
        Assert.InRange(failing.Waits, afterPause, afterPause + 1);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(5), $"Dispose took {stopping.Elapsed} (a restart's wait must end when the group stops)");
    }

    [Fact]
    public void Exceptions_after_a_wait_returned_restart_the_loop_at_once()
    {
        using var group = new PollerGroup(1);
        int faults = 0;
        group.Error = (_, _) => Interlocked.Increment(ref faults);
        using var after = new ManualResetEventSlim();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 40; i++)
        {
            group.Pollers[0].Post(() => throw new InvalidOperationException("a handler's bug"));
        }

        group.Pollers[0].Post(after.Set);

        // Paced like a failing wait, forty faults would take over twenty seconds.
        Assert.True(after.Wait(TimeSpan.FromSeconds(10)), $"the loop ran on after {Volatile.Read(ref faults)} faults");
        Assert.Equal(40, Volatile.Read(ref faults));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"forty faults took {clock.Elapsed}");
    }

    [Fact]
    public void Restart_delays_double_from_one_millisecond_to_a_second()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(1), PollerGroup.RestartDelay(2));
        Assert.Equal(TimeSpan.FromMilliseconds(2), PollerGroup.RestartDelay(3));
        Assert.Equal(TimeSpan.FromMilliseconds(512), PollerGroup.RestartDelay(11));
        Assert.Equal(TimeSpan.FromSeconds(1), PollerGroup.RestartDelay(12));
        Assert.Equal(TimeSpan.FromSeconds(1), PollerGroup.RestartDelay(1000));
    }

    /// <summary>A pike-style poller whose wait the "kernel" refuses every time.</summary>
    private sealed class FailingPoller : BasePoller
    {
        private int _waits;

        public int Waits => Volatile.Read(ref _waits);

        public override string Name => "failing";

        public volatile bool Failing;

        public override void Poll(TimeSpan timeout)
        {
            if (!Failing)
            {
                Thread.Sleep(timeout < TimeSpan.Zero || timeout > TimeSpan.FromMilliseconds(5) ? TimeSpan.FromMilliseconds(5) : timeout);
                return;
            }

            Interlocked.Increment(ref _waits);
            throw new System.IO.IOException("the wait is refused");
        }
    }

    [Fact]
    public void Disposing_from_a_loop_thread_is_refused()
    {
        using var group = new PollerGroup(1);
        Exception? refused = null;
        using var done = new ManualResetEventSlim();
        group.Pollers[0].Post(() =>
        {
            refused = Record.Exception(group.Dispose);
            done.Set();
        });

        Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
        Assert.IsType<InvalidOperationException>(refused);
    }

    /// <summary>A group of <paramref name="loops"/> echoes one round trip for each of <paramref name="connections"/> clients, then is disposed; returns how many each loop served.</summary>
    private static int[] Serve(string name, int loops, int connections, bool handOver)
    {
        var served = new int[loops];
        var group = new PollerGroup(loops, () => Pollers.Create(name));
        try
        {
            int IndexOf(BasePoller poller)
            {
                for (int i = 0; i < loops; i++)
                {
                    if (ReferenceEquals(group.Pollers[i], poller))
                    {
                        return i;
                    }
                }

                throw new InvalidOperationException("a poller outside the group");
            }

            void Adopt(BasePoller poller, Socket socket)
            {
                var channel = new TestChannel(poller);
                EchoTests.ServeEcho(channel);
                channel.SetSocket(socket);
                Interlocked.Increment(ref served[IndexOf(poller)]);
            }

            var loopback = new IPEndPoint(IPAddress.Loopback, 0);
            EndPoint endpoint = handOver
                ? group.ListenAndHandOver(loopback, Adopt).LocalEndPoint!
                : group.ListenOnEach(loopback, poller => new AdoptingListener(poller, Adopt))[0].LocalEndPoint!;

            using BasePoller clients = Pollers.Create(name);
            int echoed = 0;
            for (int i = 0; i < connections; i++)
            {
                byte tag = (byte)i;
                var client = new TestChannel(clients);
                client.OnConnect = c => c.Send([tag]);
                client.OnRead = c =>
                {
                    Span<byte> buffer = stackalloc byte[4];
                    int n;
                    while ((n = c.Recv(buffer)) > 0)
                    {
                        Assert.Equal(tag, buffer[0]);
                        echoed++;
                    }
                };
                client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
                client.Connect(endpoint);
            }

            Wait.Until(clients, () => echoed == connections, $"{connections} echoes through {loops} loops (got {echoed})", TimeSpan.FromSeconds(60));
        }
        finally
        {
            group.Dispose();
        }

        return served;
    }

    private sealed class AdoptingListener(BasePoller poller, Action<BasePoller, Socket> adopt) : Listener(poller)
    {
        protected override void HandleAccept(Socket accepted) => adopt(Poller, accepted);
    }
}
