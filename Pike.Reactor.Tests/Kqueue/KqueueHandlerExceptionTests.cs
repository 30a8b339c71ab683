using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using Pike.Reactor.BSD;
using Xunit;
using static Pike.Reactor.Tests.KqueueTestKit;

namespace Pike.Reactor.Tests.Kqueue;

/// <summary>
/// A handler's exception that leaves Poll must not cost the rest of the batch its one-shot
/// write filters: the first pass takes every fired EVFILT_WRITE out of the armed set, and only
/// dispatch put it back.
/// </summary>
[Trait("Lane", "kqueue")]
public class KqueueHandlerExceptionTests
{
    [Fact]
    public void Deferred_writes_of_a_batch_survive_an_exception_that_leaves_Poll()
    {
        using KqueuePoller p = NewPoller();
        var sockets = new List<Socket>();
        try
        {
            // A first, so that its event comes before those of the Bs in the batch.
            (Socket aNear, Socket aFar) = ConnectedPair();
            sockets.Add(aNear);
            sockets.Add(aFar);
            var a = new ThrowingTransport(p);
            a.SetSocket(aNear);

            var bs = new List<RecordingTransport>();
            for (int i = 0; i < 20; i++)
            {
                (Socket near, Socket far) = ConnectedPair();
                sockets.Add(near);
                sockets.Add(far);
                var b = new RecordingTransport(p);
                b.SetSocket(near);
                bs.Add(b);
            }

            // Everything is ready for the same wait: A readable, every B's deferred write
            // (queued in the changelist that wait applies) writable at once.
            aFar.Send("x"u8);
            WaitUntil(() => aNear.Available > 0, "A's byte to arrive");
            foreach (RecordingTransport b in bs)
            {
                p.DeferWrite(b);
            }

            var thrown = Assert.Throws<InvalidOperationException>(() => p.Poll(Deadline));
            Assert.Same(a.Failure, thrown);
            Assert.True(a.IsClosed);

            Wait.Until(p, () => bs.All(b => b.Writes > 0), "every B's HandleWrite", TimeSpan.FromSeconds(10));
            Assert.All(bs, b => Assert.Null(b.Error));
            Assert.All(bs, b => Assert.Equal(1, b.Writes));

            // The poller still works: a Wake from another thread ends a blocked Poll.
            var waker = new Thread(() =>
            {
                Thread.Sleep(200);
                p.Wake();
            }) { IsBackground = true };
            var clock = Stopwatch.StartNew();
            waker.Start();
            p.Poll(TimeSpan.FromSeconds(30));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"Poll returned after {clock.Elapsed}, not at the Wake");
            Assert.True(waker.Join(Deadline));
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>HandleRead throws an error that is not a close error; HandleError is Transport's (closes, rethrows).</summary>
    private sealed class ThrowingTransport(BasePoller poller) : Transport(poller)
    {
        public InvalidOperationException Failure { get; } = new("handler failure");

        protected internal override void HandleRead() => throw Failure;
    }
}
