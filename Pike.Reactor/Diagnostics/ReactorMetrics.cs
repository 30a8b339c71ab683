using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Pike.Reactor;

/// <summary>
/// The reactor's <c>System.Diagnostics.Metrics</c> instruments, on the meter named
/// <see cref="MeterName"/>: what <c>dotnet-counters monitor --counters Pike.Reactor</c>, an
/// OpenTelemetry exporter or a <see cref="MeterListener"/> reads. Each measurement carries the
/// poller's <see cref="BasePoller.Name"/> as the tag <see cref="PollerTag"/>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term><c>pike.reactor.channels</c></term><description>Channels held by the live pollers of each name (observable up-down counter, one measurement per name, <c>{channel}</c>; read when a listener collects).</description></item>
/// <item><term><c>pike.reactor.wait.events</c></term><description>Events one kernel wait returned (histogram, <c>{event}</c>).</description></item>
/// <item><term><c>pike.reactor.wait.duration</c></term><description>Time spent in one kernel wait, blocked or not (histogram, seconds).</description></item>
/// <item><term><c>pike.reactor.dispatch.duration</c></term><description>Time spent dispatching one wait's events to their owners (histogram, seconds).</description></item>
/// <item><term><c>pike.reactor.wakeups</c></term><description>Wake-ups that reached the kernel: a <see cref="BasePoller.Wake"/>, <see cref="BasePoller.Post"/> or <see cref="BasePoller.Stop"/> that found the loop asleep (counter, <c>{wakeup}</c>).</description></item>
/// <item><term><c>pike.reactor.accept.errors</c></term><description>Failed accepts of a <see cref="Listener"/> (counter, <c>{error}</c>), tagged <c>error.type</c> (the <see cref="SocketError"/>, or the exception's type) and <c>pike.reactor.accept.outcome</c>: <c>skipped</c> (the client failed before it was accepted), <c>backed_off</c> (out of descriptors or buffers) or <c>failed</c> (the listener's own failure).</description></item>
/// </list>
/// <para>
/// The wait and dispatch instruments are recorded by the kernel backends (the waits of
/// <see cref="BasePoller"/>'s own <see cref="BasePoller.Poll"/>); a poller that overrides
/// <c>Poll</c> records channels and wake-ups only. With no listener attached, an instrument
/// costs a test of the instruments' enabled flags where it would record: no clock read, no allocation.
/// </para>
/// </remarks>
public static class ReactorMetrics
{
    /// <summary>The meter's name: <c>"Pike.Reactor"</c>.</summary>
    public const string MeterName = "Pike.Reactor";

    /// <summary>The tag every measurement carries: the poller's name (<c>"epoll"</c>, <c>"kqueue"</c>, ...).</summary>
    public const string PollerTag = "pike.reactor.poller";

    private static readonly Meter s_meter = new(MeterName, typeof(ReactorMetrics).Assembly.GetName().Version?.ToString());

    // Live pollers, for the channel count; weak, so that an undisposed poller is still collected.
    private static readonly ConditionalWeakTable<BasePoller, object?> s_pollers = new();

    internal static readonly Histogram<int> WaitEvents = s_meter.CreateHistogram<int>(
        "pike.reactor.wait.events", "{event}", "Events one kernel wait returned.");

    internal static readonly Histogram<double> WaitDuration = s_meter.CreateHistogram<double>(
        "pike.reactor.wait.duration", "s", "Time spent in one kernel wait, blocked or not.");

    internal static readonly Histogram<double> DispatchDuration = s_meter.CreateHistogram<double>(
        "pike.reactor.dispatch.duration", "s", "Time spent dispatching one wait's events.");

    internal static readonly Counter<long> Wakeups = s_meter.CreateCounter<long>(
        "pike.reactor.wakeups", "{wakeup}", "Wake-ups that reached the kernel.");

    internal static readonly Counter<long> AcceptErrors = s_meter.CreateCounter<long>(
        "pike.reactor.accept.errors", "{error}", "Failed accepts of a listener.");

    static ReactorMetrics()
    {
        s_meter.CreateObservableUpDownCounter("pike.reactor.channels", ObserveChannels, "{channel}", "Channels held by each live poller.");
    }

    /// <summary>True when something listens to a wait or dispatch instrument: only then does a wait read the clock.</summary>
    internal static bool TimingWaits => WaitDuration.Enabled || DispatchDuration.Enabled || WaitEvents.Enabled;

    internal static void Track(BasePoller poller) => s_pollers.AddOrUpdate(poller, null);

    internal static void Untrack(BasePoller poller) => s_pollers.Remove(poller);

    internal static void RecordAcceptError(BasePoller poller, Exception error, string outcome)
    {
        if (!AcceptErrors.Enabled)
        {
            return;
        }

        string type = error is SocketException socketError ? socketError.SocketErrorCode.ToString() : error.GetType().Name;
        AcceptErrors.Add(1,
            new KeyValuePair<string, object?>(PollerTag, poller.Name),
            new KeyValuePair<string, object?>("error.type", type),
            new KeyValuePair<string, object?>("pike.reactor.accept.outcome", outcome));
    }

    internal static KeyValuePair<string, object?> Tag(BasePoller poller) => new(PollerTag, poller.Name);

    // One measurement per poller name (several loops of one backend add up, as an exporter
    // expects: an observable instrument must not report the same tags twice in one collection).
    private static IEnumerable<Measurement<int>> ObserveChannels()
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (KeyValuePair<BasePoller, object?> entry in s_pollers)
        {
            BasePoller poller = entry.Key;
            try
            {
                if (!poller.IsDisposed)
                {
                    // Read from the collecting thread: a count, not a walk of the table.
                    string name = poller.Name;
                    byName[name] = byName.GetValueOrDefault(name) + poller.ChannelCount;
                }
            }
            catch (Exception)
            {
                // A custom poller whose Name throws (or one whose constructor failed half-way)
                // is left out rather than failing the whole collection.
            }
        }

        var measurements = new List<Measurement<int>>(byName.Count);
        foreach (KeyValuePair<string, int> pair in byName)
        {
            measurements.Add(new Measurement<int>(pair.Value, new KeyValuePair<string, object?>(PollerTag, pair.Key)));
        }

        return measurements;
    }
}
