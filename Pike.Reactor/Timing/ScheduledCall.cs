using System;

namespace Pike.Reactor;

/// <summary>One <see cref="BasePoller.CallLater"/> entry; disposing it cancels the call.</summary>
internal sealed class ScheduledCall : IDisposable
{
    private readonly TimerQueue _queue;

    internal ScheduledCall(TimerQueue queue, long due, long sequence, Action action)
    {
        _queue = queue;
        Due = due;
        Sequence = sequence;
        Action = action;
    }

    internal long Due { get; }

    internal long Sequence { get; }

    internal Action Action { get; }

    /// <summary>Position in the queue's heap; -1 once it has run or been cancelled.</summary>
    internal int HeapIndex { get; set; } = -1;

    public void Dispose() => _queue.Cancel(this);

    internal bool RunsBefore(ScheduledCall other) => Due < other.Due || (Due == other.Due && Sequence < other.Sequence);
}
