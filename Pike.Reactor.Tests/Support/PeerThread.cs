using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Pike.Reactor.Tests;

/// <summary>Work a blocking peer does on its own thread while the test drives the loop; its result or exception once done.</summary>
public sealed class PeerThread<T>
{
    private T _result = default!;
    private ExceptionDispatchInfo? _error;
    private volatile bool _done;

    public PeerThread(Func<T> work)
    {
        // On a pool thread rather than one of its own: threads that start and end in numbers are
        // what Wine's thread suspension (at every collection) was seen to trip over.
        ThreadPool.UnsafeQueueUserWorkItem(_ =>
        {
            try
            {
                _result = work();
            }
            catch (Exception error)
            {
                _error = ExceptionDispatchInfo.Capture(error);
            }
            finally
            {
                _done = true;
            }
        }, null);
    }

    public bool IsCompleted => _done;

    /// <summary>The result; rethrows what the work threw. Only once <see cref="IsCompleted"/>.</summary>
    public T Result
    {
        get
        {
            if (!_done)
            {
                throw new InvalidOperationException("The peer's work has not finished.");
            }

            _error?.Throw();
            return _result;
        }
    }
}
