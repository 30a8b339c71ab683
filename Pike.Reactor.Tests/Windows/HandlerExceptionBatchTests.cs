using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Windows;

/// <summary>
/// A handler's exception that escapes Poll must not lose the rest of the batch the wait took
/// from the kernel: the other channels' events and the wake-up must still be accounted for.
/// </summary>
[Trait("Lane", "windows")]
public class HandlerExceptionBatchTests
{
    private const int Others = 20;

    [Theory]
    [MemberData(nameof(WindowsTestSupport.NativePollers), MemberType = typeof(WindowsTestSupport))]
    public void Exception_escaping_a_batch_leaves_the_rest_of_it_polled_and_wake_working(string poller)
    {
        using BasePoller p = PollerFactory.Create(poller);
        var peers = new List<Socket>();
        try
        {
            // A first: its completion comes first in the batch (on iocp the polls are submitted
            // in registration order), ahead of every B's.
            (Socket peerA, TestChannel a) = TestChannel.OverPair(p);
            peers.Add(peerA);
            a.OnRead = _ => throw new InvalidOperationException("handler failure");
            a.OnError = (channel, error) =>
            {
                channel.Close();
                ExceptionDispatchInfo.Throw(error);
            };
            peerA.Send([1]);

            var others = new List<TestChannel>();
            for (int i = 0; i < Others; i++)
            {
                (Socket peer, TestChannel b) = TestChannel.OverPair(p);
                peers.Add(peer);
                others.Add(b);
                p.DeferWrite(b);
                peer.Send([2]);
            }

            // Everything is ready before the first wait: A's exception escapes that Poll.
            var clock = Stopwatch.StartNew();
            InvalidOperationException? escaped = null;
            while (escaped is null)
            {
                Assert.True(clock.Elapsed < Wait.Deadline, "A's exception never escaped Poll");
                try
                {
                    p.Poll(TimeSpan.FromMilliseconds(50));
                }
                catch (InvalidOperationException error)
                {
                    escaped = error;
                }
            }

            Assert.Equal("handler failure", escaped.Message);
            Assert.True(a.IsClosed);

            // (a) The entries after A's in the aborted batch were bookkept: every B is polled again.
            Wait.Until(p, () => others.TrueForAll(b => b.Writes >= 1), $"HandleWrite on all {Others} other channels", TimeSpan.FromSeconds(10));

            // (b) The wake-up still works: a Wake from another thread ends a blocked Poll...
            var blocked = TimeSpan.FromSeconds(30);
            using (var waker = new Timer(_ => p.Wake(), null, 200, Timeout.Infinite))
            {
                clock.Restart();
                p.Poll(blocked);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Wake did not end the blocked Poll ({clock.Elapsed.TotalSeconds:0.0}s)");
            }

            // ...and an action posted from another thread runs.
            int ran = 0;
            using (var poster = new Timer(_ => p.Post(() => ran++), null, 200, Timeout.Infinite))
            {
                clock.Restart();
                while (ran == 0 && clock.Elapsed < TimeSpan.FromSeconds(10))
                {
                    p.Poll(blocked);
                }

                Assert.Equal(1, ran);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Post did not end the blocked Poll ({clock.Elapsed.TotalSeconds:0.0}s)");
            }

            Assert.True(others.TrueForAll(b => !b.IsClosed), "a B channel was closed");
        }
        finally
        {
            foreach (Socket peer in peers)
            {
                peer.Dispose();
            }
        }
    }
}
