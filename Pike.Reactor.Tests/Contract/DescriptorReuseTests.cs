using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>Relies on POSIX handing out the lowest free descriptor, so no other test may open any meanwhile.</summary>
[Trait("Lane", "contract")]
[Collection(nameof(ProcessWideCollection))]
public class DescriptorReuseTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_reused_descriptor_never_receives_the_closed_channels_event(string name)
    {
        // docs/pitfalls.md 1 (libuv test-tcp-close-accept.c): close B while handling A, open a
        // socket that gets B's number, register it: B's stale event must not reach it.
        using BasePoller poller = Pollers.Create(name);
        (Socket peerA, TestChannel a) = TestChannel.OverPair(poller);
        (Socket peerB, TestChannel b) = TestChannel.OverPair(poller);
        var reused = new List<TestChannel>();
        var closedNumbers = new List<nint>();

        void CloseOtherAndReuse(TestChannel self, TestChannel other)
        {
            self.Recv(new byte[100]);
            if (other.IsClosed)
            {
                return;
            }

            closedNumbers.Add(other.Fileno);
            other.Close();
            var fresh = new TestChannel(poller);
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            fresh.SetSocket(OperatingSystem.IsWindows() ? udp : MoveToNumber(udp, closedNumbers[^1]));
            reused.Add(fresh);
        }

        a.OnRead = _ => CloseOtherAndReuse(a, b);
        b.OnRead = _ => CloseOtherAndReuse(b, a);

        TestChannel.MakeReadable((peerA, a), (peerB, b));
        poller.Step(TimeSpan.FromSeconds(5));
        poller.Loop(TimeSpan.FromMilliseconds(50));

        TestChannel fresh = Assert.Single(reused);
        if (OperatingSystem.IsLinux())
        {
            // POSIX hands out the lowest free number: the new socket really did take the old one.
            Assert.Equal(Assert.Single(closedNumbers), fresh.Fileno);
        }

        Assert.Empty(fresh.Calls);
        Assert.Equal(1, a.Reads + b.Reads);
        peerA.Dispose();
        peerB.Dispose();
    }

    /// <summary>
    /// Puts <paramref name="socket"/> at descriptor <paramref name="number"/> (dup2), as the lowest-free
    /// rule would when no other descriptor was freed before it.
    /// </summary>
    private static Socket MoveToNumber(Socket socket, nint number)
    {
        int fd = (int)socket.SafeHandle.DangerousGetHandle();
        Assert.Equal((int)number, Linux.TestLibc.dup2(fd, (int)number));
        socket.Dispose();
        return new Socket(new SafeSocketHandle(number, ownsHandle: true));
    }
}
