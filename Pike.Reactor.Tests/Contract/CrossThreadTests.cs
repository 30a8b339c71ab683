using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

[Trait("Lane", "contract")]
public class CrossThreadTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Posts_from_many_threads_all_run_on_the_loop_thread_in_each_threads_order(string name)
    {
        const int Threads = 4;
        const int PerThread = 2000;
        using BasePoller poller = Pollers.Create(name);
        int loopThread = Environment.CurrentManagedThreadId;
        var seen = new List<int>[Threads];
        int total = 0;
        bool foreignThreadRan = false;
        var posters = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int id = t;
            seen[id] = new List<int>();
            posters[t] = new Thread(() =>
            {
                for (int i = 0; i < PerThread; i++)
                {
                    int value = i;
                    poller.Post(() =>
                    {
                        foreignThreadRan |= Environment.CurrentManagedThreadId != loopThread;
                        seen[id].Add(value);
                        total++;
                    });
                }
            });
        }

        foreach (Thread poster in posters)
        {
            poster.Start();
        }

        Wait.Until(poller, () => Volatile.Read(ref total) == Threads * PerThread, "every posted action");
        foreach (Thread poster in posters)
        {
            poster.Join();
        }

        Assert.False(foreignThreadRan);
        for (int t = 0; t < Threads; t++)
        {
            Assert.Equal(PerThread, seen[t].Count);
            for (int i = 0; i < PerThread; i++)
            {
                Assert.Equal(i, seen[t][i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Wake_from_another_thread_ends_a_blocked_Poll(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using var polling = new ManualResetEventSlim();
        TimeSpan waited = TimeSpan.Zero;
        var loop = new Thread(() =>
        {
            var clock = Stopwatch.StartNew();
            polling.Set();
            poller.Step(TimeSpan.FromSeconds(30));
            waited = clock.Elapsed;
        });
        loop.Start();
        polling.Wait();
        Thread.Sleep(100); // let it block in the kernel
        poller.Wake();

        Assert.True(loop.Join(TimeSpan.FromSeconds(15)), "Poll did not return after Wake");
        Assert.True(waited < TimeSpan.FromSeconds(15));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_Wake_before_Poll_makes_it_return_without_blocking(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        poller.Wake();
        var clock = Stopwatch.StartNew();
        poller.Step(TimeSpan.FromSeconds(30));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Stop_from_another_thread_ends_Loop(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        var listener = new TestListener(poller); // something registered: Loop() would run for ever
        var stopper = new Thread(() =>
        {
            Thread.Sleep(100);
            poller.Stop();
        });
        stopper.Start();

        var clock = Stopwatch.StartNew();
        poller.Loop();
        stopper.Join();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15));
        Assert.Equal(1, poller.ChannelCount);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Wake_ups_coalesce_into_few_kernel_signals(string name)
    {
        // docs/pitfalls.md 7: many Wake/Post calls in a row make one kernel wake-up.
        using BasePoller poller = Pollers.Create(name);
        using var polling = new ManualResetEventSlim();
        long before = poller.WakeSignals;
        var loop = new Thread(() =>
        {
            polling.Set();
            poller.Step(TimeSpan.FromSeconds(30));
        });
        loop.Start();
        polling.Wait();
        Thread.Sleep(100);
        for (int i = 0; i < 10_000; i++)
        {
            poller.Wake();
        }

        Assert.True(loop.Join(TimeSpan.FromSeconds(15)));
        long signals = poller.WakeSignals - before;
        Assert.InRange(signals, 1, 2);
    }
}
