using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Pike.Reactor;

/// <summary>
/// Waits on the operating system for socket readiness and calls the owner of each ready
/// socket. One thread runs <see cref="Loop"/> or <see cref="Poll"/>; <see cref="Stop"/>,
/// <see cref="Post"/>, <see cref="Wake"/> and <see cref="CallLater"/> may be called from any
/// thread, everything else belongs to the loop thread (or to any thread while no loop runs).
/// </summary>
/// <remarks>
/// A backend supplies the kernel mechanism through the protected members: it adds, changes
/// and removes registrations (<see cref="RegisterHandle"/>, <see cref="ModifyHandle"/>,
/// <see cref="UnregisterHandle"/>), waits (<see cref="WaitForEvents"/>), reports what became
/// ready by registration key (<see cref="DispatchEvents"/> calling <see cref="ProcessEvent"/>),
/// and interrupts a wait from another thread (<see cref="SignalWake"/>). Its
/// <see cref="Poll"/> is <c>PollCore(timeout)</c>. Everything else (channels and their keys,
/// interest, dispatch and error routing, timers, posted work, wake-up coalescing) lives here.
/// </remarks>
public abstract class BasePoller : IDisposable
{
    /// <summary>The key a backend may use for its own wake-up registration; never a channel's key.</summary>
    protected const long WakeKey = -1;

    private const int MaxRepolls = 4;
    private const int MaxAcceptsPerEvent = 64;

    private readonly ChannelTable _channels = new();
    private readonly TimerQueue _timers = new();
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Lock _wakeGate = new();

    private int _ownerThread;   // managed id of the thread inside Loop or Poll; 0 when none
    private bool _inPoll;
    private volatile bool _disposed;
    private int _stopRequested;
    private int _sleeping;      // 1 while the loop thread is (about to be) blocked in the kernel
    private int _wakeRequested; // a Wake arrived since the last wait began
    private int _wakeSignaled;  // the backend's wake-up was signaled and not yet drained
    private long _wakeSignals;

    /// <summary>The poller's name: "epoll", "poll", "kqueue", "iocp", "wsapoll" or "select".</summary>
    public abstract string Name { get; }

    /// <summary>How many channels this poller holds.</summary>
    public int ChannelCount => _channels.Count;

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>How many times a <see cref="Wake"/> reached the kernel (wake-ups coalesce while one is pending).</summary>
    internal long WakeSignals => Interlocked.Read(ref _wakeSignals);

    /// <summary>How many events one wait can return at most; when a wait fills it, the poller waits again without blocking.</summary>
    protected virtual int EventCapacity => int.MaxValue;

    /// <summary>Starts watching <paramref name="transport"/>'s socket. Called by <see cref="Transport.SetSocket"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="transport"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The poller is disposed.</exception>
    /// <exception cref="InvalidOperationException">The transport belongs to another poller, has no socket, is already held, or its handle is held by another transport.</exception>
    public virtual void AddChannel(Transport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ThrowIfDisposed();
        ThrowIfForeignThread();
        if (!ReferenceEquals(transport.Poller, this))
        {
            throw new InvalidOperationException($"The transport belongs to another poller ({transport.Poller.Name}); a transport is added to the poller it was created with.");
        }

        if (transport.IsRegistered)
        {
            throw new InvalidOperationException("The transport is already registered with this poller.");
        }

        if (transport.Socket is null || transport.IsClosed)
        {
            throw new InvalidOperationException("The transport has no open socket; call CreateSocket or SetSocket first.");
        }

        nint handle = transport.Fileno;
        if (_channels.IsHandleHeld(handle))
        {
            throw new InvalidOperationException($"Socket handle {handle} is already registered by another transport.");
        }

        IoEvents interest = transport.DesiredInterest;
        nint key = _channels.Add(transport, handle);
        try
        {
            if (interest != IoEvents.None)
            {
                RegisterHandle(handle, key, interest);
            }
        }
        catch
        {
            // docs/pitfalls.md 6: a registration the kernel refused leaves no trace here.
            _channels.Remove(key);
            throw;
        }

        transport.Key = key;
        transport.KernelInterest = interest;
        transport.IsRegistered = true;
    }

    /// <summary>Stops watching <paramref name="transport"/>'s socket without closing it; <see cref="AddChannel"/> may add it again.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="transport"/> is null.</exception>
    /// <exception cref="InvalidOperationException">This poller does not hold the transport.</exception>
    public virtual void DelChannel(Transport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        if (!ReferenceEquals(transport.Poller, this) || !transport.IsRegistered)
        {
            throw new InvalidOperationException("This poller does not hold the transport.");
        }

        ThrowIfForeignThread();
        nint key = transport.Key;
        IoEvents interest = transport.KernelInterest;
        transport.IsRegistered = false;
        transport.Key = -1;
        transport.KernelInterest = IoEvents.None;
        _channels.Remove(key);
        if (interest != IoEvents.None && !_disposed)
        {
            UnregisterHandle(transport.Fileno, key);
        }
    }

    /// <summary>
    /// Asks for one <see cref="Transport.HandleWrite"/> when the socket can take more data.
    /// <see cref="Transport.Send"/> calls it when the socket would block.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="transport"/> is null.</exception>
    /// <exception cref="InvalidOperationException">This poller does not hold the transport.</exception>
    public virtual void DeferWrite(Transport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        if (!ReferenceEquals(transport.Poller, this) || !transport.IsRegistered)
        {
            throw new InvalidOperationException("This poller does not hold the transport; DeferWrite needs a registered channel.");
        }

        ThrowIfForeignThread();
        bool wanted = transport.WantWrite;
        transport.WantWrite = true;
        try
        {
            UpdateInterest(transport);
        }
        catch
        {
            transport.WantWrite = wanted; // the kernel refused: ask again next time
            throw;
        }
    }

    /// <summary>
    /// Runs iterations until <paramref name="count"/> are done or <paramref name="timeout"/> has
    /// passed, or, with neither, until <see cref="Stop"/> or until nothing is registered,
    /// scheduled or posted. <see cref="Stop"/> ends it after the current iteration.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The poller is disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a handler, or while another thread runs the loop.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A negative timeout (other than infinite) or count.</exception>
    public void Loop(TimeSpan? timeout = null, int? count = null)
    {
        ThrowIfDisposed();
        if (timeout is { } t && t < TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "The timeout must not be negative (Timeout.InfiniteTimeSpan waits without limit).");
        }

        if (count < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "The count must not be negative.");
        }

        EnterOwnership("Loop");
        try
        {
            long deadline = timeout is { } limit && limit != Timeout.InfiniteTimeSpan
                ? Stopwatch.GetTimestamp() + ToTicks(limit)
                : long.MaxValue;
            bool untilIdle = timeout is null && count is null;
            int done = 0;
            while (count is null || done < count)
            {
                if (untilIdle && !HasWork)
                {
                    break;
                }

                // A stop requested before this Loop began (or from a handler) ends it without waiting.
                TimeSpan wait = Volatile.Read(ref _stopRequested) != 0 ? TimeSpan.Zero
                    : deadline == long.MaxValue ? Timeout.InfiniteTimeSpan
                    : Stopwatch.GetElapsedTime(0, Math.Max(0, deadline - Stopwatch.GetTimestamp()));
                Poll(wait);
                done++;
                if (Volatile.Read(ref _stopRequested) != 0 || Stopwatch.GetTimestamp() >= deadline)
                {
                    break;
                }
            }
        }
        finally
        {
            Interlocked.Exchange(ref _stopRequested, 0);
            Volatile.Write(ref _ownerThread, 0);
        }
    }

    /// <summary>
    /// One iteration: waits at most <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>
    /// allowed) for readiness, a due timer, a <see cref="Post"/> or a <see cref="Wake"/>; then
    /// dispatches what is ready, runs posted actions and due timers. Backends implement it as
    /// <c>PollCore(timeout)</c>.
    /// </summary>
    public abstract void Poll(TimeSpan timeout);

    /// <summary>
    /// Ends the running <see cref="Loop"/> after its current iteration; when no Loop runs, the next
    /// one returns after one iteration that does not wait. Thread-safe.
    /// </summary>
    public void Stop()
    {
        Interlocked.Exchange(ref _stopRequested, 1);
        Wake();
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread, after earlier posted actions. Thread-safe.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="action"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The poller is disposed.</exception>
    public void Post(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ThrowIfDisposed();
        _posted.Enqueue(action);
        Wake();
    }

    /// <summary>
    /// Makes a blocked <see cref="Poll"/> return; when none is blocked, the next one returns
    /// without blocking. Many calls in a row make one kernel wake-up. Thread-safe.
    /// </summary>
    public void Wake()
    {
        Interlocked.Exchange(ref _wakeRequested, 1);

        // docs/pitfalls.md 7: only a sleeping loop needs the kernel, and only once until it
        // drains the signal (libuv uv_async_send's pending flag; Netty's nextWakeupNanos check).
        if (Volatile.Read(ref _sleeping) != 0 && Interlocked.CompareExchange(ref _wakeSignaled, 1, 0) == 0)
        {
            lock (_wakeGate)
            {
                if (!_disposed)
                {
                    Interlocked.Increment(ref _wakeSignals);
                    try
                    {
                        SignalWake();
                    }
                    catch
                    {
                        Volatile.Write(ref _wakeSignaled, 0); // nothing was signaled: let the next Wake try
                        throw;
                    }
                }
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread once <paramref name="delay"/> has passed; disposing the result cancels it. Thread-safe.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="action"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The poller is disposed.</exception>
    public IDisposable CallLater(TimeSpan delay, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (delay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "The delay must not be negative.");
        }

        ThrowIfDisposed();
        ScheduledCall call = _timers.Schedule(delay, action);

        // A loop blocked on another thread must recompute its wait; with no loop running, the
        // next Poll sees the timer anyway and must not be woken early by it.
        int owner = Volatile.Read(ref _ownerThread);
        if (owner != 0 && owner != Environment.CurrentManagedThreadId)
        {
            Wake();
        }

        return call;
    }

    /// <summary>Closes every channel still held, drops timers and posted actions, and releases the kernel resources.</summary>
    /// <exception cref="InvalidOperationException">Called while a loop runs (stop it first).</exception>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        if (Volatile.Read(ref _ownerThread) != 0)
        {
            throw new InvalidOperationException("The poller cannot be disposed while its loop runs; call Stop and dispose it after Loop returns.");
        }

        var held = new List<Transport>(_channels.Count);
        _channels.CopyChannelsTo(held);
        foreach (Transport channel in held)
        {
            channel.Close();
        }

        lock (_wakeGate)
        {
            _disposed = true;
        }

        _timers.Clear();
        _posted.Clear();
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Names the poller.</summary>
    public override string ToString() => $"{GetType().Name}({Name}, {ChannelCount} channels)";

    internal bool HasWork => _channels.Count > 0 || _timers.Count > 0 || !_posted.IsEmpty;

    /// <summary>Brings the kernel's interest for <paramref name="transport"/> in line with what it wants now.</summary>
    internal void UpdateInterest(Transport transport)
    {
        if (!transport.IsRegistered || _disposed)
        {
            return;
        }

        IoEvents desired = transport.DesiredInterest;
        IoEvents current = transport.KernelInterest;
        if (desired == current)
        {
            return;
        }

        // docs/pitfalls.md 3: an empty mask is a removal, never an empty registration
        // (Netty #16683: an empty epoll mask still reported EPOLLERR/EPOLLHUP forever).
        transport.KernelInterest = desired;
        try
        {
            if (current == IoEvents.None)
            {
                RegisterHandle(transport.Fileno, transport.Key, desired);
            }
            else if (desired == IoEvents.None)
            {
                UnregisterHandle(transport.Fileno, transport.Key);
            }
            else
            {
                ModifyHandle(transport.Fileno, transport.Key, current, desired);
            }
        }
        catch
        {
            transport.KernelInterest = current;
            throw;
        }
    }

    internal Transport? FindChannel(nint key) => _channels.Find(key);

    internal void ThrowIfForeignThread()
    {
        int owner = Volatile.Read(ref _ownerThread);
        if (owner != 0 && owner != Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException("The poller's loop runs on another thread; use Post to act on its channels from here.");
        }
    }

    /// <summary>Dispatches the readable channels named by their registration keys (the original's process_readables).</summary>
    protected void ProcessReadables(ReadOnlySpan<nint> readables)
    {
        foreach (nint key in readables)
        {
            ProcessEvent(key, IoEvents.Read);
        }
    }

    /// <summary>Dispatches the writable channels named by their registration keys (the original's process_writables).</summary>
    protected void ProcessWritables(ReadOnlySpan<nint> writables)
    {
        foreach (nint key in writables)
        {
            ProcessEvent(key, IoEvents.Write);
        }
    }

    /// <summary>
    /// Dispatches one channel's readiness: a connecting channel first finishes connecting
    /// (<c>SO_ERROR</c>), then a readable one reads (or accepts), then a writable one whose
    /// write was deferred gets its one <see cref="Transport.HandleWrite"/>. Returns false when
    /// no channel holds <paramref name="key"/> any more (closed meanwhile, maybe in this batch):
    /// the event is dropped, and the backend may remove a stale kernel registration.
    /// </summary>
    protected bool ProcessEvent(nint key, IoEvents ready)
    {
        Transport? channel = _channels.Find(key);
        if (channel is null)
        {
            return false;
        }

        if (channel.IsConnecting)
        {
            FinishConnect(channel);
            if (channel.Key != key || channel.IsConnecting || !channel.Connected)
            {
                return true; // closed, still connecting, or failed (HandleError has heard of it)
            }

            ready &= ~IoEvents.Write;
        }

        if ((ready & IoEvents.Read) != 0 && !channel.ReadingPaused)
        {
            if (channel is Listener listener)
            {
                listener.AcceptReady(MaxAcceptsPerEvent);
            }
            else
            {
                try
                {
                    channel.HandleRead();
                }
                catch (Exception error)
                {
                    RouteError(channel, error);
                }
            }

            if (channel.Key != key)
            {
                return true;
            }
        }

        if ((ready & IoEvents.Write) != 0 && channel.WantWrite)
        {
            channel.WantWrite = false;
            try
            {
                channel.HandleWrite();
                DropWriteInterestUnlessWanted(channel, key);
            }
            catch (Exception error)
            {
                try
                {
                    RouteError(channel, error);
                }
                finally
                {
                    // One-shot also when the handler threw: a write interest left in the kernel
                    // with no write wanted would wake every wait at once, for ever.
                    DropWriteInterestUnlessWanted(channel, key);
                }
            }
        }

        return true;
    }

    private void DropWriteInterestUnlessWanted(Transport channel, nint key)
    {
        if (channel.Key == key && !channel.WantWrite)
        {
            UpdateInterest(channel);
        }
    }

    /// <summary>Calls <paramref name="channel"/>'s HandleError for <paramref name="error"/>; a backend uses it for a registration change the kernel refused late.</summary>
    protected void ReportChannelError(nint key, Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (_channels.Find(key) is { } channel)
        {
            RouteError(channel, error);
        }
    }

    /// <summary>
    /// For an event whose key no channel holds: the handle that registration had, when no
    /// live channel holds that handle now, so that the backend can remove it from the kernel
    /// set instead of hearing of it forever (docs/pitfalls.md 2).
    /// </summary>
    protected bool TryGetStaleHandle(nint key, out nint handle) => _channels.TryGetStaleHandle(key, out handle);

    /// <summary>The slot index packed into a registration key: small, dense, reused after removal; backends index their per-channel arrays with it.</summary>
    protected static int SlotIndex(nint key) => ChannelTable.SlotIndex(key);

    /// <summary>True while the channel with <paramref name="key"/> waits for its connect to finish.</summary>
    protected bool IsConnecting(nint key) => _channels.Find(key)?.IsConnecting == true;

    /// <summary>
    /// The iteration every backend's <see cref="Poll"/> runs: guards against re-entry, works out
    /// how long to wait (timers, pending posts and wake-ups), waits through
    /// <see cref="WaitForEvents"/> (again with what remains after an interruption), dispatches
    /// through <see cref="DispatchEvents"/> (waiting again without blocking while the buffer
    /// comes back full), then runs posted actions and due timers.
    /// </summary>
    protected void PollCore(TimeSpan timeout)
    {
        ThrowIfDisposed();
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must not be negative (Timeout.InfiniteTimeSpan waits without limit).");
        }

        bool owns = EnterPoll();
        try
        {
            long now = Stopwatch.GetTimestamp();
            long waitUntil = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : now + ToTicks(timeout);
            waitUntil = Math.Min(waitUntil, _timers.NextDue());

            Interlocked.Exchange(ref _sleeping, 1);
            // Stop() wakes through Wake(); a stop flag nobody consumed (no Loop running) must
            // not turn every later Poll into a busy poll.
            bool busy = Interlocked.Exchange(ref _wakeRequested, 0) != 0 || !_posted.IsEmpty;
            int ready;
            while (true)
            {
                ready = WaitForEvents(busy ? 0 : ToWaitMilliseconds(waitUntil, now));
                if (ready >= 0)
                {
                    break;
                }

                // Interrupted (EINTR): wait only for what remains (docs/pitfalls.md 4).
                now = Stopwatch.GetTimestamp();
            }

            Interlocked.Exchange(ref _wakeRequested, 0);
            Interlocked.Exchange(ref _sleeping, 0);

            DispatchEvents(ready);

            // docs/pitfalls.md 9: a full buffer means more is waiting; take it now rather
            // than spread a burst over iterations (libuv re-polls, Netty grows its array).
            for (int i = 0; i < MaxRepolls && ready >= EventCapacity; i++)
            {
                GrowEventCapacity();
                ready = WaitForEvents(0);
                if (ready <= 0)
                {
                    break;
                }

                DispatchEvents(ready);
            }

            RunPosted();
            RunDueTimers();
        }
        finally
        {
            Interlocked.Exchange(ref _sleeping, 0);
            _inPoll = false;
            if (owns)
            {
                Volatile.Write(ref _ownerThread, 0);
            }
        }
    }

    /// <summary>
    /// Blocks in the kernel for at most <paramref name="timeoutMilliseconds"/> (-1: no limit,
    /// 0: do not block). Returns how many events are ready for <see cref="DispatchEvents"/>,
    /// or -1 when the wait was interrupted before anything happened.
    /// </summary>
    protected abstract int WaitForEvents(int timeoutMilliseconds);

    /// <summary>
    /// Dispatches the <paramref name="count"/> events the last wait returned: each channel's
    /// through <see cref="ProcessEvent"/> (or the contract's ProcessReadables/ProcessWritables),
    /// the wake-up by draining it and calling <see cref="AcknowledgeWake"/>.
    /// </summary>
    protected abstract void DispatchEvents(int count);

    /// <summary>Makes room for more events per wait, after one came back full.</summary>
    protected virtual void GrowEventCapacity()
    {
    }

    /// <summary>Adds <paramref name="handle"/> to the kernel set under <paramref name="key"/>, watching <paramref name="interest"/> (never None). Throws when the kernel refuses.</summary>
    protected abstract void RegisterHandle(nint handle, nint key, IoEvents interest);

    /// <summary>Changes what a registered handle is watched for, from <paramref name="previous"/> to <paramref name="interest"/> (neither is None).</summary>
    protected abstract void ModifyHandle(nint handle, nint key, IoEvents previous, IoEvents interest);

    /// <summary>Removes <paramref name="handle"/> from the kernel set; called before the socket is closed. Does not throw for a handle the kernel already dropped.</summary>
    protected abstract void UnregisterHandle(nint handle, nint key);

    /// <summary>
    /// Makes the blocked wait return. Called from any thread, at most once until the backend
    /// calls <see cref="AcknowledgeWake"/>, and never after the poller is disposed.
    /// </summary>
    protected abstract void SignalWake();

    /// <summary>The backend drained its wake-up signal: the next <see cref="Wake"/> signals again.</summary>
    protected void AcknowledgeWake() => Volatile.Write(ref _wakeSignaled, 0);

    /// <summary>Releases the backend's kernel resources; channels are already closed.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the poller is disposed.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>
    /// Sends a handler's exception where the contract says: end of stream, a disposed socket
    /// and the reset/abort/not-connected/shutdown socket errors close the channel
    /// (<see cref="Transport.HandleClose"/>); anything else goes to <see cref="Transport.HandleError"/>.
    /// What those two throw propagates out of the loop.
    /// </summary>
    internal static void RouteError(Transport channel, Exception error)
    {
        if (IsCloseError(error))
        {
            channel.HandleClose();
        }
        else
        {
            channel.HandleError(error);
        }
    }

    internal static bool IsCloseError(Exception error) =>
        error is EndOfStreamException or ObjectDisposedException
        || (error is SocketException socketError && socketError.SocketErrorCode is
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.NotConnected or SocketError.Shutdown);

    private static void FinishConnect(Transport channel)
    {
        Socket socket = channel.Socket!;
        SocketError error = channel.PendingConnectError ?? SocketError.Success;
        EndPoint? remote = null;
        try
        {
            if (error == SocketError.Success)
            {
                error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            }

            if (error == SocketError.Success)
            {
                remote = socket.RemoteEndPoint;
                if (remote is null)
                {
                    return; // spurious readiness (docs/pitfalls.md 5): still connecting
                }
            }
        }
        catch (SocketException probeError)
        {
            error = probeError.SocketErrorCode;
        }

        channel.IsConnecting = false;
        channel.PendingConnectError = null;
        if (error != SocketError.Success)
        {
            try
            {
                channel.Poller.UpdateInterest(channel);
            }
            catch (NativeCallException)
            {
                // The socket failed already; its owner hears of the connect error, which is the cause.
            }

            channel.HandleError(new SocketException((int)error));
            return;
        }

        channel.MarkConnected(remote!);
        try
        {
            channel.Poller.UpdateInterest(channel);
            channel.HandleConnect();
        }
        catch (Exception handlerError)
        {
            RouteError(channel, handlerError);
        }
    }

    private void RunPosted()
    {
        for (int pending = _posted.Count; pending > 0 && _posted.TryDequeue(out Action? action); pending--)
        {
            action();
        }
    }

    private void RunDueTimers()
    {
        if (_timers.Count == 0)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        while (_timers.TakeDue(now) is { } call)
        {
            call.Action();
        }
    }

    private bool EnterPoll()
    {
        int me = Environment.CurrentManagedThreadId;
        int owner = Interlocked.CompareExchange(ref _ownerThread, me, 0);
        if (owner != 0 && owner != me)
        {
            throw new InvalidOperationException("Another thread is running this poller's loop; Poll and Loop are not re-entrant.");
        }

        if (_inPoll)
        {
            throw new InvalidOperationException("Poll and Loop are not re-entrant: they cannot be called from a handler.");
        }

        _inPoll = true;
        return owner == 0;
    }

    private void EnterOwnership(string what)
    {
        int me = Environment.CurrentManagedThreadId;
        int owner = Interlocked.CompareExchange(ref _ownerThread, me, 0);
        if (owner == me)
        {
            throw new InvalidOperationException($"{what} is not re-entrant: it cannot be called from a handler.");
        }

        if (owner != 0)
        {
            throw new InvalidOperationException($"Another thread is running this poller's loop; {what} is not re-entrant.");
        }
    }

    private static long ToTicks(TimeSpan span) =>
        span.Ticks >= TimeSpan.MaxValue.Ticks / 1000 ? long.MaxValue / 2 : (long)(span.Ticks * (Stopwatch.Frequency / (double)TimeSpan.TicksPerSecond));

    private static int ToWaitMilliseconds(long until, long now)
    {
        if (until == long.MaxValue)
        {
            return -1;
        }

        long remaining = until - now;
        if (remaining <= 0)
        {
            return 0;
        }

        // Round up: a sub-millisecond wait must not become a busy poll (docs/pitfalls.md 4, mio epoll.rs).
        double ms = Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency);
        return ms >= int.MaxValue ? int.MaxValue - 1 : (int)ms;
    }
}
