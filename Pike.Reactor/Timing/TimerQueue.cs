using System;
using System.Diagnostics;
using System.Threading;

namespace Pike.Reactor;

/// <summary>
/// Pending <see cref="BasePoller.CallLater"/> calls in a binary min-heap ordered by due time,
/// then by the order they were scheduled. Scheduling and cancelling are allowed from any
/// thread; running happens on the loop thread.
/// </summary>
internal sealed class TimerQueue
{
    private readonly Lock _lock = new();
    private ScheduledCall[] _heap = new ScheduledCall[16];
    private int _count;
    private long _sequence;

    public int Count => Volatile.Read(ref _count);

    public ScheduledCall Schedule(TimeSpan delay, Action action)
    {
        // Saturate: TimeSpan.MaxValue means "never", and must not wrap into the past.
        double ticks = delay <= TimeSpan.Zero ? 0 : delay.TotalSeconds * Stopwatch.Frequency;
        long now = Stopwatch.GetTimestamp();
        long due = ticks >= long.MaxValue - now - 1 ? long.MaxValue - 1 : now + (long)ticks;
        lock (_lock)
        {
            var call = new ScheduledCall(this, due, _sequence++, action);
            if (_count == _heap.Length)
            {
                Array.Resize(ref _heap, _heap.Length * 2);
            }

            _heap[_count] = call;
            call.HeapIndex = _count;
            Volatile.Write(ref _count, _count + 1);
            SiftUp(call.HeapIndex);
            return call;
        }
    }

    public void Cancel(ScheduledCall call)
    {
        lock (_lock)
        {
            if (call.HeapIndex >= 0)
            {
                RemoveAt(call.HeapIndex);
            }
        }
    }

    /// <summary>The timestamp of the earliest pending call, or <see cref="long.MaxValue"/>.</summary>
    public long NextDue()
    {
        // Most loops have no timers: answer without the lock (a timer scheduled from another
        // thread meanwhile wakes the loop, which then looks again).
        if (Volatile.Read(ref _count) == 0)
        {
            return long.MaxValue;
        }

        lock (_lock)
        {
            return _count == 0 ? long.MaxValue : _heap[0].Due;
        }
    }

    /// <summary>Removes and returns the earliest call due by <paramref name="now"/>, or null.</summary>
    public ScheduledCall? TakeDue(long now)
    {
        lock (_lock)
        {
            if (_count == 0 || _heap[0].Due > now)
            {
                return null;
            }

            ScheduledCall first = _heap[0];
            RemoveAt(0);
            return first;
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            for (int i = 0; i < _count; i++)
            {
                _heap[i].HeapIndex = -1;
                _heap[i] = null!;
            }

            _count = 0;
        }
    }

    private void RemoveAt(int index)
    {
        ScheduledCall removed = _heap[index];
        removed.HeapIndex = -1;
        _count--;
        if (index != _count)
        {
            ScheduledCall last = _heap[_count];
            _heap[index] = last;
            last.HeapIndex = index;
            SiftUp(index);
            SiftDown(last.HeapIndex);
        }

        _heap[_count] = null!;
    }

    private void SiftUp(int index)
    {
        ScheduledCall item = _heap[index];
        while (index > 0)
        {
            int parent = (index - 1) / 2;
            if (!item.RunsBefore(_heap[parent]))
            {
                break;
            }

            Place(_heap[parent], index);
            index = parent;
        }

        Place(item, index);
    }

    private void SiftDown(int index)
    {
        ScheduledCall item = _heap[index];
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= _count)
            {
                break;
            }

            if (child + 1 < _count && _heap[child + 1].RunsBefore(_heap[child]))
            {
                child++;
            }

            if (!_heap[child].RunsBefore(item))
            {
                break;
            }

            Place(_heap[child], index);
            index = child;
        }

        Place(item, index);
    }

    private void Place(ScheduledCall call, int index)
    {
        _heap[index] = call;
        call.HeapIndex = index;
    }
}
