using System;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class InterestTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Write_interest_is_one_shot(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using var _ = peer;

        poller.DeferWrite(channel);
        Wait.Until(poller, () => channel.Writes == 1, "one HandleWrite");
        poller.Loop(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, channel.Writes);

        // Asking again in HandleWrite keeps it for one more.
        channel.OnWrite = c =>
        {
            if (c.Writes < 3)
            {
                poller.DeferWrite(c);
            }
        };
        poller.DeferWrite(channel);
        Wait.Until(poller, () => channel.Writes == 3, "two more HandleWrites");
        poller.Loop(TimeSpan.FromMilliseconds(100));
        Assert.Equal(3, channel.Writes);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_paused_channel_with_nothing_else_to_watch_is_silent_and_resumes(string name)
    {
        // docs/pitfalls.md 3: interest set to nothing removes the registration (Netty #16683:
        // an empty epoll mask still woke the loop for ever).
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        channel.PauseReading();
        Assert.True(channel.ReadingPaused);

        peer.Send(new byte[10]);
        peer.Shutdown(SocketShutdown.Send);
        TimeSpan cpuBefore = OsResources.ThreadCpuTime();
        poller.Loop(TimeSpan.FromMilliseconds(300));
        TimeSpan cpu = OsResources.ThreadCpuTime() - cpuBefore;

        Assert.Empty(channel.Calls);
        Assert.True(cpu < TimeSpan.FromMilliseconds(100), $"{cpu.TotalMilliseconds} ms of CPU while paused");

        channel.ResumeReading();
        Wait.Until(poller, () => channel.CloseCalled, "the data and the EOF after resuming");
        Assert.Equal(1, channel.Reads);
        peer.Dispose();
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_deregistered_listener_is_silent_and_can_be_registered_again(string name)
    {
        // docs/pitfalls.md 8 (mio issue_1205, #633, #1073).
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        poller.DelChannel(listener);
        Assert.Equal(0, poller.ChannelCount);

        using Socket client = Loopback.Connect(listener.EndPoint);
        poller.Loop(TimeSpan.FromMilliseconds(200));
        Assert.Empty(listener.Accepted);

        poller.AddChannel(listener);
        Wait.Until(poller, () => listener.Accepted.Count == 1, "the pending connection after registering again");
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_listener_accepts_a_backlog_in_one_readiness(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller);
        var clients = new Socket[20];
        for (int i = 0; i < clients.Length; i++)
        {
            clients[i] = Loopback.Connect(listener.EndPoint);
        }

        Wait.Until(poller, () => listener.Accepted.Count == clients.Length, "every pending connection");
        foreach (Socket client in clients)
        {
            client.Dispose();
        }
    }
}
