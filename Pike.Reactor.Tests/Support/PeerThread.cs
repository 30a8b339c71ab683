using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Pike.Reactor.Tests;

/// <summary>Work a blocking peer does on its own thread while the test drives the loop; its result or exception once done.</summary>
public sealed class PeerThread<T>
{
    private readonly Thread _thread;
    private T _result = default!;
    private ExceptionDispatchInfo? _error;
    private volatile bool _done;

    public PeerThread(Func<T> work)
    {
        _thread = new Thread(() =>
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
        })
        { IsBackground = true };
        _thread.Start();
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
