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
    private bool _sweeping;

    public IdleSweep(BasePoller poller)
    {
        _poller = poller;
        _sweep = Sweep;
    }

    public void Watch(Transport transport)
    {
        _watched.Add(transport);
        TimeSpan interval = Clamp(transport.IdleTimeout!.Value / 2);
        if (_sweeping)
        {
            return; // the sweep running now schedules the next one with this timeout counted
        }

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
        _sweeping = true;
        long now = Stopwatch.GetTimestamp();
        TimeSpan shortest = MaxInterval;
        try
        {
            for (int i = _watched.Count - 1; i >= 0; i--)
            {
                if (i >= _watched.Count)
                {
                    continue; // a handler below closed several watched channels
                }

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
        }
        finally
        {
            // Also when a HandleIdle threw (it propagates out of Loop): the others keep their timeouts.
            _sweeping = false;
            foreach (Transport transport in _watched)
            {
                if (transport.IdleTimeout is { } timeout && Clamp(timeout / 2) < shortest)
                {
                    shortest = Clamp(timeout / 2);
                }
            }

            _timer?.Dispose();
            _timer = null;
            if (_watched.Count > 0 && !_poller.IsDisposed)
            {
                _interval = shortest;
                _timer = _poller.CallLater(_interval, _sweep);
            }
        }
    }
}
