using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Pike.Reactor;

/// <summary>
/// One loop per core: <see cref="Count"/> pollers, each running its <see cref="BasePoller.Loop"/>
/// on a thread of its own until the group is disposed. A channel still belongs to one poller
/// and is touched on that poller's thread only: create it there (<see cref="BasePoller.Post"/>,
/// or the callbacks of <see cref="ListenOnEach"/> and <see cref="ListenAndHandOver"/>, which run
/// there).
/// </summary>
/// <remarks>
/// Two ways to spread connections. <see cref="ListenOnEach"/> gives every loop a listener of its
/// own on the same port with SO_REUSEPORT, and the kernel spreads the connections (Linux; on
/// FreeBSD SO_REUSEPORT_LB): no thread hands anything to another. <see cref="ListenAndHandOver"/>
/// accepts on the first loop and posts each accepted socket to the next loop in turn: it works
/// on every OS, at the cost of one posted action and a wake-up of the target loop per connection.
/// An exception that escapes a loop goes to <see cref="Error"/> when set (on that loop's thread;
/// the loop then goes on, after a pause that doubles up to a second while it keeps failing
/// before any wait returns); without it the group stops every loop and <see cref="Dispose"/>
/// rethrows it.
/// </remarks>
public sealed class PollerGroup : IDisposable
{
    private readonly BasePoller[] _pollers;
    private readonly Thread[] _threads;
    private readonly List<Exception> _faults = new();
    private readonly List<Listener> _listeners = new(); // closed first on Dispose
    private readonly ConcurrentDictionary<Socket, byte> _handedOver = new(); // posted, not adopted yet
    private const int QuickFaultMilliseconds = 10;
    private readonly ManualResetEventSlim _stopSignal = new(); // set with _stopping: ends a restart's wait
    private volatile bool _stopping;
    private int _next = -1;
    private int _disposed;

    /// <summary>
    /// Creates <paramref name="count"/> pollers with <paramref name="create"/> (by default
    /// <see cref="PollerFactory.Create()"/>, the OS's best) and starts a loop thread for each,
    /// named <c>pike-loop-N</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    public PollerGroup(int count, Func<BasePoller>? create = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        create ??= PollerFactory.Create;
        _pollers = new BasePoller[count];
        _threads = new Thread[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                _pollers[i] = create() ?? throw new InvalidOperationException("The poller factory returned null.");
            }
        }
        catch
        {
            foreach (BasePoller? made in _pollers)
            {
                made?.Dispose();
            }

            throw;
        }

        for (int i = 0; i < count; i++)
        {
            BasePoller poller = _pollers[i];
            _threads[i] = new Thread(() => RunLoop(poller)) { IsBackground = true, Name = $"pike-loop-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>How many pollers (and loop threads) the group has.</summary>
    public int Count => _pollers.Length;

    /// <summary>The pollers, in the order of their threads' numbers.</summary>
    public IReadOnlyList<BasePoller> Pollers => _pollers;

    /// <summary>
    /// Called on a loop's thread with the poller and the exception that escaped its loop; the
    /// loop goes on after it: at once, or after a pause (1 ms doubling up to 1 s) while each
    /// restart fails within 10 ms and before any wait returned (docs/pitfalls.md 22). When null (the default), the first such exception stops the whole
    /// group and <see cref="Dispose"/> rethrows it. Set it before connections arrive.
    /// </summary>
    public Action<BasePoller, Exception>? Error { get; set; }

    /// <summary>The next poller in turn, for spreading work by hand. Thread-safe.</summary>
    public BasePoller Next() => _pollers[(int)((uint)Interlocked.Increment(ref _next) % (uint)_pollers.Length)];

    /// <summary>
    /// Gives every loop a listener on <paramref name="endpoint"/>: <paramref name="create"/>
    /// makes it on that loop's thread, unbound; the group sets SO_REUSEPORT and listens. Returns
    /// once every listener listens; if one fails, those made are closed and the error is thrown.
    /// </summary>
    /// <returns>The listeners, one per poller, in the pollers' order.</returns>
    /// <exception cref="PlatformNotSupportedException">Not Linux or FreeBSD (where the kernel balances connections over such listeners); use <see cref="ListenAndHandOver"/>.</exception>
    public IReadOnlyList<Listener> ListenOnEach(EndPoint endpoint, Func<BasePoller, Listener> create)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(create);
        ThrowIfOnGroupThread(nameof(ListenOnEach));
        if (endpoint.AddressFamily == AddressFamily.Unix)
        {
            throw new ArgumentException("Unix domain sockets cannot share a path; use ListenAndHandOver.", nameof(endpoint));
        }

        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsFreeBSD())
        {
            throw new PlatformNotSupportedException("The kernel spreads connections over listeners sharing a port on Linux (SO_REUSEPORT) and FreeBSD (SO_REUSEPORT_LB) only; use ListenAndHandOver.");
        }

        var listeners = new Listener[_pollers.Length];
        EndPoint bound = endpoint;
        try
        {
            for (int i = 0; i < _pollers.Length; i++)
            {
                EndPoint target = bound;
                listeners[i] = OnLoop(_pollers[i], poller =>
                {
                    Listener listener = create(poller) ?? throw new InvalidOperationException("The listener factory returned null.");
                    if (!ReferenceEquals(listener.Poller, poller))
                    {
                        listener.Dispose();
                        throw new InvalidOperationException("The listener factory must create the listener for the poller it is given.");
                    }

                    try
                    {
                        listener.ReusePort = true;
                        listener.Listen(target);
                    }
                    catch
                    {
                        listener.Close();
                        throw;
                    }

                    return listener;
                });

                // Port 0: the others join the port the first one got.
                bound = listeners[0].LocalEndPoint!;
            }
        }
        catch
        {
            CloseAll(listeners);
            throw;
        }

        lock (_listeners)
        {
            _listeners.AddRange(listeners);
        }

        return listeners;
    }

    /// <summary>
    /// Listens on <paramref name="endpoint"/> on the first loop and hands each accepted socket to
    /// the loops in turn (the first included): <paramref name="adopt"/> runs on the chosen loop's
    /// thread with its poller and the socket, which it owns from then on (for example
    /// <c>new MyTransport(poller).SetSocket(socket)</c>). A socket whose adopt throws is disposed
    /// and the exception goes where a loop's exceptions go (<see cref="Error"/>). Works on every OS.
    /// </summary>
    /// <returns>The listener (on the first poller; close it there, or dispose the group).</returns>
    public Listener ListenAndHandOver(EndPoint endpoint, Action<BasePoller, Socket> adopt)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(adopt);
        ThrowIfOnGroupThread(nameof(ListenAndHandOver));
        Listener handing = OnLoop(_pollers[0], poller =>
        {
            var listener = new HandOverListener(poller, this, adopt);
            try
            {
                listener.Listen(endpoint);
            }
            catch
            {
                listener.Close();
                throw;
            }

            return listener;
        });
        lock (_listeners)
        {
            _listeners.Add(handing);
        }

        return handing;
    }

    /// <summary>
    /// Closes the group's listeners (on their loops), stops every loop, waits for its thread, and
    /// disposes every poller (closing the channels each still holds). Rethrows the exception that stopped the group, if one did (when
    /// <see cref="Error"/> was not set). Call it from a thread outside the group.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from one of the group's loop threads.</exception>
    /// <exception cref="AggregateException">Loops failed with exceptions no <see cref="Error"/> handler took.</exception>
    public void Dispose()
    {
        ThrowIfOnGroupThread(nameof(Dispose));
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var errors = new List<Exception>();
        try
        {
            // Accepting ends first, on each listener's loop, so that fewer sockets are handed to
            // a loop that has stopped already (those that are get disposed below).
            Listener[] listeners;
            lock (_listeners)
            {
                listeners = [.. _listeners];
            }

            foreach (Listener listener in listeners)
            {
                if (_stopping)
                {
                    break; // a loop failed: disposing the pollers closes the listeners
                }

                try
                {
                    OnLoop(listener.Poller, _ =>
                    {
                        listener.Close();
                        return true;
                    });
                }
                catch (Exception error)
                {
                    errors.Add(error);
                }
            }
        }
        finally
        {
            StopLoops();
            foreach (Thread thread in _threads)
            {
                thread.Join();
            }

            _stopSignal.Dispose();

            foreach (BasePoller poller in _pollers)
            {
                try
                {
                    poller.Dispose();
                }
                catch (Exception error)
                {
                    errors.Add(error);
                }
            }

            // Sockets posted to a loop that stopped before it ran the hand-over.
            foreach (Socket socket in _handedOver.Keys)
            {
                if (_handedOver.TryRemove(socket, out _))
                {
                    socket.Dispose();
                }
            }
        }

        lock (_faults)
        {
            errors.InsertRange(0, _faults);
        }

        if (errors.Count > 0)
        {
            throw new AggregateException("A loop of the poller group failed, or releasing it did.", errors);
        }
    }

    private void ThrowIfOnGroupThread(string what)
    {
        foreach (Thread thread in _threads)
        {
            if (thread == Thread.CurrentThread)
            {
                throw new InvalidOperationException($"{what} cannot be called from a loop of the group: it would wait for its own loop. Call it from a thread outside the group.");
            }
        }
    }

    private void StopLoops()
    {
        _stopping = true;
        _stopSignal.Set();
        foreach (BasePoller poller in _pollers)
        {
            try
            {
                poller.Stop();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void RunLoop(BasePoller poller)
    {
        int quickFaults = 0;
        while (!_stopping)
        {
            long started = Stopwatch.GetTimestamp();
            long progress = poller.Progress;
            try
            {
                poller.Loop(Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException error) when (poller.IsDisposed)
            {
                // Disposed under the group: no loop can run on it again.
                Fault(poller, error, fatal: true);
            }
            catch (Exception error)
            {
                // Timed before the Error handler runs: a slow handler must not turn the pause off.
                TimeSpan ran = Stopwatch.GetElapsedTime(started);
                Fault(poller, error, fatal: false);

                // docs/pitfalls.md 22: a fault that comes back as soon as the loop restarts, before
                // any wait returned (a wait the kernel refuses every time), must not turn into a
                // busy loop: the restart waits, twice as long after each such fault, up to a
                // second. A handler's exception comes after a wait returned: restarted at once.
                bool quick = poller.Progress == progress && ran < TimeSpan.FromMilliseconds(QuickFaultMilliseconds);
                quickFaults = quick ? quickFaults + 1 : 0;
                if (quickFaults > 1)
                {
                    _stopSignal.Wait(RestartDelay(quickFaults));
                }
            }
        }
    }

    /// <summary>How long a loop whose last <paramref name="quickFaults"/> restarts each failed at once waits before the next: 1 ms after the second, doubling, at most a second.</summary>
    internal static TimeSpan RestartDelay(int quickFaults) =>
        TimeSpan.FromMilliseconds(Math.Min(1000, 1 << Math.Min(quickFaults - 2, 10)));

    private void Fault(BasePoller poller, Exception error, bool fatal)
    {
        if (!fatal && Error is { } handler)
        {
            try
            {
                handler(poller, error);
                return;
            }
            catch (Exception handlerError)
            {
                error = new AggregateException(error, handlerError);
            }
        }

        lock (_faults)
        {
            _faults.Add(error);
        }

        StopLoops();
    }

    /// <summary>Runs <paramref name="work"/> on <paramref name="poller"/>'s loop and waits for its result (or its exception).</summary>
    private T OnLoop<T>(BasePoller poller, Func<BasePoller, T> work)
    {
        T result = default!;
        Exception? failure = null;
        using var done = new ManualResetEventSlim();
        poller.Post(() =>
        {
            try
            {
                result = work(poller);
            }
            catch (Exception error)
            {
                failure = error;
            }
            finally
            {
                done.Set();
            }
        });
        while (!done.Wait(TimeSpan.FromMilliseconds(100)))
        {
            if (_stopping)
            {
                throw new InvalidOperationException("The poller group has stopped (disposed, or a loop failed).");
            }
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }

    private static void CloseAll(Listener?[] listeners)
    {
        foreach (Listener? listener in listeners)
        {
            if (listener is not null)
            {
                try
                {
                    listener.Poller.Post(listener.Close);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    /// <summary>Accepts on the first loop and posts each socket to the next loop in turn.</summary>
    private sealed class HandOverListener(BasePoller poller, PollerGroup group, Action<BasePoller, Socket> adopt) : Listener(poller)
    {
        protected override void HandleAccept(Socket accepted)
        {
            BasePoller target = group.Next();
            if (target == Poller)
            {
                adopt(target, accepted); // a failure is the listener's to handle, as for any accept
                return;
            }

            group._handedOver.TryAdd(accepted, 0);
            try
            {
                target.Post(() => Adopt(target, accepted));
            }
            catch (ObjectDisposedException)
            {
                // The group is going away.
                if (group._handedOver.TryRemove(accepted, out _))
                {
                    accepted.Dispose();
                }
            }
        }

        private void Adopt(BasePoller target, Socket accepted)
        {
            if (!group._handedOver.TryRemove(accepted, out _))
            {
                return; // disposed by the group's Dispose already
            }

            try
            {
                adopt(target, accepted);
            }
            catch (Exception error)
            {
                if (!target.CloseHolderOf(accepted))
                {
                    accepted.Dispose();
                }

                // As on the accepting loop: a client that went away meanwhile is no failure.
                if (!IsClientGone(error))
                {
                    throw;
                }
            }
        }
    }
}
