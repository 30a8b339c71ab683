using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>Failures inside the loop leave it consistent: no stuck interest, no busy loop, no lost callback.</summary>
[Trait("Lane", "contract")]
public class RobustnessTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_throwing_HandleWrite_does_not_leave_write_interest_behind(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;
        channel.OnWrite = _ => throw new InvalidOperationException("write handler failed");
        channel.OnError = (_, _) => { }; // swallow: the channel stays open

        poller.DeferWrite(channel);
        Wait.Until(poller, () => channel.Errors.Count == 1, "HandleError from HandleWrite");
        poller.Loop(TimeSpan.FromMilliseconds(20)); // settle
        TimeSpan cpuBefore = OsResources.ThreadCpuTime();
        poller.Loop(TimeSpan.FromMilliseconds(300));
        TimeSpan cpu = OsResources.ThreadCpuTime() - cpuBefore;

        Assert.True(cpu < TimeSpan.FromMilliseconds(100), $"{cpu.TotalMilliseconds} ms of CPU: the write interest outlived its HandleWrite");
        Assert.Equal(1, channel.Writes);

        channel.OnWrite = null;
        poller.DeferWrite(channel);
        Wait.Until(poller, () => channel.Writes == 2, "a later deferred write");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_timer_that_never_comes_does_not_shorten_or_lengthen_a_Poll(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        bool ran = false;
        poller.CallLater(TimeSpan.MaxValue, () => ran = true);
        poller.CallLater(TimeSpan.FromDays(365 * 1000), () => ran = true);

        var clock = Stopwatch.StartNew();
        poller.Step(TimeSpan.FromMilliseconds(100));
        TimeSpan elapsed = clock.Elapsed;

        Assert.False(ran);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(99), $"returned after {elapsed}");
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"a far timer stretched the wait to {elapsed}");
    }

    [Theory]
    [MemberData(nameof(Pollers.Kernel), MemberType = typeof(Pollers))]
    public void A_Stop_with_no_Loop_running_does_not_make_Poll_spin(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        poller.Stop();
        poller.Poll(TimeSpan.FromSeconds(10)); // returns at once: the Stop woke it

        var clock = Stopwatch.StartNew();
        poller.Poll(TimeSpan.FromMilliseconds(100));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(99), $"Poll returned after {clock.Elapsed}: a stale stop made it busy");

        // The pending stop is for the next Loop: it ends after its first iteration.
        var listener = new TestListener(poller);
        clock.Restart();
        poller.Loop(TimeSpan.FromSeconds(30));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15));
        poller.Loop(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_failed_connect_calls_only_HandleError_even_when_the_channel_stays_open(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var client = new TestChannel(poller) { OnError = (_, _) => { } };
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(Loopback.ClosedPort());

        Wait.Until(poller, () => client.Errors.Count > 0, "the connect failure");
        Assert.Equal(["error"], client.Calls);
        client.Close();
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Connect_from_another_thread_while_the_loop_runs_is_refused(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        using var running = new ManualResetEventSlim();
        Exception? loopError = null;
        var loop = new Thread(() =>
        {
            poller.Post(running.Set);
            loopError = Record.Exception(() => poller.Loop());
        });
        loop.Start();
        try
        {
            Assert.True(running.Wait(TimeSpan.FromSeconds(15)));
            Assert.Throws<InvalidOperationException>(() => client.Connect(listener.EndPoint));
            Assert.False(client.Connected);

            bool connected = false;
            client.OnConnect = _ => connected = true;
            poller.Post(() => client.Connect(listener.EndPoint)); // the way to do it
            Wait.For(() => Volatile.Read(ref connected), "the posted connect");
        }
        finally
        {
            poller.Stop();
            Assert.True(loop.Join(TimeSpan.FromSeconds(15)));
        }

        Assert.Null(loopError);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_created_socket_waits_for_Connect_or_Listen_without_being_closed(string name)
    {
        // An unconnected stream socket is reported hung up at once; watching it for reading
        // would close the transport before its owner got round to connecting it.
        using BasePoller poller = Pollers.Create(name);
        var server = new TestListener(poller);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        var late = new LateListener(poller);
        late.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        poller.Loop(TimeSpan.FromMilliseconds(100));

        Assert.Empty(client.Calls);
        Assert.False(client.IsClosed);
        client.Connect(server.EndPoint);
        Wait.Until(poller, () => client.ConnectedCalled, "a connect started an iteration later");

        late.Listen(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        using Socket peer = Loopback.Connect(late.LocalEndPoint!);
        Wait.Until(poller, () => late.Accepted == 1, "an accept on a socket that listened an iteration later");
    }

    private sealed class LateListener(BasePoller poller) : Listener(poller)
    {
        public int Accepted { get; private set; }

        protected override void HandleAccept(Socket accepted)
        {
            Accepted++;
            accepted.Dispose();
        }
    }
}
