using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Tests.Core;

/// <summary>
/// The Pike.Reactor meter, read through a <see cref="MeterListener"/> as dotnet-counters or an
/// exporter would. Measurements are tagged by poller name only, so these tests run alone
/// (<see cref="ProcessWideCollection"/>): no other test's poller adds to the counts.
/// </summary>
[Trait("Lane", "contract")]
[Collection(nameof(ProcessWideCollection))]
public class ReactorMetricsTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void The_channel_count_follows_the_channels_a_poller_holds(string name)
    {
        using var recorder = new MetricsRecorder();
        BasePoller poller = Pollers.Create(name);
        var pairs = new List<(Socket Peer, TestChannel Channel)>();
        try
        {
            Assert.Equal(0, recorder.ObserveChannels(Pollers.Tag(name)));
            for (int i = 0; i < 3; i++)
            {
                pairs.Add(TestChannel.OverPair(poller));
            }

            Assert.Equal(3, recorder.ObserveChannels(Pollers.Tag(name)));
            pairs[0].Channel.Close();
            Assert.Equal(2, recorder.ObserveChannels(Pollers.Tag(name)));
        }
        finally
        {
            poller.Dispose();
            foreach ((Socket peer, _) in pairs)
            {
                peer.Dispose();
            }
        }

        // A disposed poller is no longer counted.
        Assert.Equal(0, recorder.ObserveChannels(Pollers.Tag(name)));
    }

    [Theory]
    [MemberData(nameof(Pollers.Kernel), MemberType = typeof(Pollers))]
    public void Each_kernel_wait_records_its_events_and_durations(string name)
    {
        using var recorder = new MetricsRecorder();
        using BasePoller poller = Pollers.Create(name);
        (Socket peer, TestChannel channel) = TestChannel.OverPair(poller);
        using (peer)
        {
            int reads = 0;
            channel.OnRead = c =>
            {
                Span<byte> buffer = stackalloc byte[16];
                reads += c.Recv(buffer);
            };
            peer.Send("ping"u8);
            Wait.Until(poller, () => reads == 4, "the read of 4 bytes");
        }

        List<Recorded> events = recorder.Of("pike.reactor.wait.events", Pollers.Tag(name));
        Assert.NotEmpty(events);
        Assert.Contains(events, e => e.Value >= 1); // the wait that found the readable channel
        Assert.All(events, e => Assert.True(e.Value >= 0));
        List<Recorded> waits = recorder.Of("pike.reactor.wait.duration", Pollers.Tag(name));
        List<Recorded> dispatches = recorder.Of("pike.reactor.dispatch.duration", Pollers.Tag(name));
        Assert.Equal(events.Count, waits.Count);
        Assert.Equal(events.Count, dispatches.Count);
        Assert.All(waits.Concat(dispatches), e => Assert.InRange(e.Value, 0, 60));
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_wake_up_that_reaches_the_kernel_is_counted(string name)
    {
        using var recorder = new MetricsRecorder();
        using BasePoller poller = Pollers.Create(name);
        bool posted = false;
        var poster = new Thread(() =>
        {
            // Not an assertion on this thread (it would end the process): a loop that never
            // slept shows as a wake-up count of 0 below.
            SpinWait.SpinUntil(() => poller.IsAsleep, Wait.Deadline);
            poller.Post(() => posted = true);
        });
        poster.Start();
        poller.Loop(TimeSpan.FromSeconds(20), count: 1);
        Assert.True(poster.Join(Wait.Deadline));
        Assert.True(posted);
        Assert.Equal(1, recorder.Of("pike.reactor.wakeups", Pollers.Tag(name)).Sum(e => e.Value));

        // A Post from the loop thread itself, during dispatch, needs no kernel wake-up: the
        // next wait does not block.
        bool again = false;
        poller.CallLater(TimeSpan.Zero, () => poller.Post(() => again = true));
        poller.Loop(TimeSpan.FromSeconds(20), count: 2);
        Assert.True(again);
        Assert.Equal(1, recorder.Of("pike.reactor.wakeups", Pollers.Tag(name)).Sum(e => e.Value));
    }

    [Fact]
    public void Pollers_of_one_name_are_reported_as_one_count()
    {
        using var recorder = new MetricsRecorder();
        using BasePoller first = Pollers.Create("select");
        using BasePoller second = Pollers.Create("select");
        (Socket a, TestChannel _) = TestChannel.OverPair(first);
        (Socket b, TestChannel _) = TestChannel.OverPair(second);
        (Socket c, TestChannel _) = TestChannel.OverPair(second);
        using (a)
        using (b)
        using (c)
        {
            List<Recorded> observed = recorder.ObserveAll().Where(r => r.Instrument == "pike.reactor.channels" && Equals(r.Tags[ReactorMetrics.PollerTag], "select")).ToList();
            Recorded only = Assert.Single(observed);
            Assert.Equal(3, only.Value);
        }
    }

    [Fact]
    public void Nothing_is_recorded_without_a_listener()
    {
        Assert.False(ReactorMetrics.TimingWaits);
        using var recorder = new MetricsRecorder();
        Assert.True(ReactorMetrics.TimingWaits);
        recorder.Dispose();
        Assert.False(ReactorMetrics.TimingWaits);
    }
}

/// <summary>A failed accept is counted with its error and what the listener did about it.</summary>
[Trait("Lane", "linux")]
[Collection(nameof(ProcessWideCollection))]
public class ReactorMetricsAcceptTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_failed_accept_is_counted_with_its_error_and_outcome(string name)
    {
        using var recorder = new MetricsRecorder();
        using BasePoller poller = Pollers.Create(name);
        using var listener = new FailingListener(poller);
        listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Socket!.Shutdown(SocketShutdown.Both); // on Linux every accept now fails with EINVAL
        Wait.Until(poller, () => listener.Errors > 0, "the first accept failure");

        Recorded error = Assert.Single(recorder.Of("pike.reactor.accept.errors", Pollers.Tag(name)));
        Assert.Equal(1, error.Value);
        Assert.Equal(nameof(SocketError.InvalidArgument), error.Tags["error.type"]);
        Assert.Equal("failed", error.Tags["pike.reactor.accept.outcome"]);
    }

    private sealed class FailingListener(BasePoller poller) : Listener(poller)
    {
        public int Errors { get; private set; }

        protected override void HandleAccept(Socket accepted) => accepted.Dispose();

        protected internal override void HandleError(Exception error) => Errors++;
    }
}

/// <summary>One measurement: its instrument, value and tags.</summary>
public sealed record Recorded(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

/// <summary>Listens to every instrument of the Pike.Reactor meter while it lives.</summary>
public sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Recorded> _recorded = new();
    private readonly Lock _observing = new();
    private List<Recorded>? _observed;

    public MetricsRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ReactorMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    /// <summary>The measurements of <paramref name="instrument"/> tagged with poller <paramref name="poller"/>, so far.</summary>
    public List<Recorded> Of(string instrument, string poller) =>
        _recorded.Where(r => r.Instrument == instrument && Equals(r.Tags.GetValueOrDefault(ReactorMetrics.PollerTag), poller)).ToList();

    /// <summary>Collects the observable channel counter now: what the pollers named <paramref name="poller"/> hold.</summary>
    public int ObserveChannels(string poller) =>
        (int)ObserveAll().Where(r => r.Instrument == "pike.reactor.channels" && Equals(r.Tags.GetValueOrDefault(ReactorMetrics.PollerTag), poller)).Sum(r => r.Value);

    /// <summary>Collects every observable instrument now.</summary>
    public List<Recorded> ObserveAll()
    {
        lock (_observing)
        {
            _observed = new List<Recorded>();
            _listener.RecordObservableInstruments();
            var observed = _observed;
            _observed = null;
            return observed;
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var recorded = new Recorded(instrument.Name, value, new Dictionary<string, object?>(tags.ToArray()));
        if (instrument.IsObservable)
        {
            _observed?.Add(recorded);
        }
        else
        {
            _recorded.Enqueue(recorded);
        }
    }
}
