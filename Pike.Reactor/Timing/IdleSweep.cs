using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Pike.Reactor;

/// <summary>
/// The idle timeouts of one poller: the channels with an <see cref="Transport.IdleTimeout"/>,
/// and one timer that sweeps them (as Netty's IdleStateHandler and libuv's timers avoid a
/// timer per connection: reads and writes only stamp the channel). The sweep runs every half
/// of the shortest timeout it watches (at least every 10 ms, at most every second), so a
/// channel is found idle between its timeout and half as much again after it.
/// </summary>
internal sealed class IdleSweep
{
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxInterval = TimeSpan.FromSeconds(1);

    private readonly BasePoller _poller;
    private readonly List<Transport> _watched = new();
    private readonly Action _sweep;
    private IDisposable? _timer;
    private TimeSpan _interval = MaxInterval;

    public IdleSweep(BasePoller poller)
    {
        _poller = poller;
        _sweep = Sweep;
    }

    public void Watch(Transport transport)
    {
        _watched.Add(transport);
        TimeSpan interval = Clamp(transport.IdleTimeout!.Value / 2);
        if (_timer is null || interval < _interval)
        {
            _interval = interval;
            _timer?.Dispose();
            _timer = _poller.CallLater(_interval, _sweep);
        }
    }

    private static TimeSpan Clamp(TimeSpan interval) =>
        interval < MinInterval ? MinInterval : interval > MaxInterval ? MaxInterval : interval;

    private void Sweep()
    {
        _timer = null;
        long now = Stopwatch.GetTimestamp();
        TimeSpan shortest = MaxInterval;
        for (int i = _watched.Count - 1; i >= 0; i--)
        {
            Transport transport = _watched[i];
            if (transport.IsIdleAt(now, out bool watched))
            {
                transport.HandleIdle();
                watched = transport.IdleTimeout.HasValue && !transport.IsClosed;
            }

            if (!watched)
            {
                // Closed, or its timeout cleared: forget it (the last one takes its place).
                transport.IdleWatched = false;
                _watched[i] = _watched[^1];
                _watched.RemoveAt(_watched.Count - 1);
                continue;
            }

            TimeSpan half = Clamp(transport.IdleTimeout!.Value / 2);
            if (half < shortest)
            {
                shortest = half;
            }
        }

        if (_watched.Count > 0 && !_poller.IsDisposed)
        {
            _interval = shortest;
            _timer = _poller.CallLater(_interval, _sweep);
        }
    }
}
