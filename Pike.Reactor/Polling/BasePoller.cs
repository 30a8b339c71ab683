using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Pike.Reactor;

/// <summary>
/// Waits on the operating system for socket readiness and calls the owner of each ready
/// socket. One thread runs <see cref="Loop"/> or <see cref="Poll"/>; <see cref="Stop"/>,
/// <see cref="Post"/>, <see cref="Wake"/> and <see cref="CallLater"/> may be called from any
/// thread, everything else belongs to the loop thread (or to any thread while no loop runs).
/// </summary>
/// <remarks>
/// <para>
/// There are two ways to write a poller. Pike's way: override <see cref="Poll"/>, find out
/// what is ready however you like (<see cref="WatchedChannels"/> says what each channel wants
/// watched, <see cref="WakeSocket"/> is a socket to include in the wait so that
/// <see cref="Wake"/> can end it), and report the ready descriptors through
/// <see cref="ProcessReadables"/> and <see cref="ProcessWritables"/>; docs/custom-poller.md
/// has a complete one. The kernel backends' way: leave <see cref="Poll"/> alone and implement
/// <see cref="ApplyInterest"/> (told of every interest change, with the socket, its
/// registration key and the interest before and after), <see cref="WaitForEvents"/>,
/// <see cref="DispatchEvents"/> (reporting readiness by key through <see cref="ProcessEvent(nint, IoEvents)"/>)
/// and <see cref="SignalWake"/>.
/// </para>
/// <para>
/// Either way the core does the rest: the channels and their registration state (one slot per
/// channel: key and generation, connecting, deferred write, applied interest, the backend's
/// own value), connect completion through <c>SO_ERROR</c>, one-shot write interest, accepting,
/// error routing, timers, posted actions and wake-up coalescing. One iteration runs, in this
/// order: the wait (bounded by the caller's timeout and the next timer; not blocking when an
/// action is posted or a wake-up is pending), the dispatch of what is ready, the actions
/// posted before the iteration's dispatch ended, and the timers due by then.
/// </para>
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
    private LoopbackWaker? _loopbackWaker;
    private IdleSweep? _idleSweep;

    private int _ownerThread;   // managed id of the thread inside Loop or Poll; 0 when none
    private long _progress;     // waits that returned and batches reported: a group tells a loop that fails at once from one that ran
    private bool _inIteration;
    private bool _pollCalled;   // RunIteration is calling Poll; cleared once the wait is over
    private bool _reportingFilenos;
    private bool _inPollCall;   // RunIteration's call of Poll has not returned yet
    private long _batch;        // advances once per iteration (or per fileno report outside one)
    private long _waitUntil;    // the iteration's wait deadline (Stopwatch ticks; long.MaxValue: none)
    private volatile bool _disposed;
    private int _stopRequested;
    private int _sleeping;      // 1 while the loop thread is (about to be) blocked in the kernel
    private int _wakeRequested; // a Wake arrived since the last wait began
    private int _wakeSignaled;  // the wake-up was signaled and not yet drained
    private long _wakeSignals;
    private Transport?[] _sendOwners = [];   // the transport of each send request out, by QueueSend's token
    private int[] _freeSendTokens = [];      // tokens not in use: the first _freeSendTokenCount of them
    private int _freeSendTokenCount;

    /// <summary>Creates the poller's channel table, timers and posted-action queue; a backend's constructor then creates its kernel object.</summary>
    protected BasePoller()
    {
        ReactorMetrics.Track(this);
    }

    /// <summary>The poller's name: "epoll", "poll", "kqueue", "iocp", "wsapoll", "select", or a custom poller's own.</summary>
    public abstract string Name { get; }

    /// <summary>How many channels this poller holds.</summary>
    public int ChannelCount => _channels.Count;

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>How many times a <see cref="Wake"/> reached the kernel (wake-ups coalesce while one is pending).</summary>
    internal long WakeSignals => Interlocked.Read(ref _wakeSignals);

    /// <summary>How many events one wait can return at most; when a wait fills it, the poller waits again without blocking.</summary>
    protected virtual int EventCapacity => int.MaxValue;

    /// <summary>
    /// Every channel this poller holds, with what it wants watched now: for a poller that
    /// finds readiness its own way (<c>foreach</c>; allocates nothing).
    /// </summary>
    protected ChannelInterestEnumerator WatchedChannels
    {
        get
        {
            ThrowIfReentrantCustomPoll();
            return new(_channels);
        }
    }

    /// <summary>
    /// A socket that becomes readable when <see cref="Wake"/> (or <see cref="Post"/>,
    /// <see cref="Stop"/>, a <see cref="CallLater"/> from another thread) needs the wait to end.
    /// A poller that overrides <see cref="Poll"/> and blocks includes it in its wait for reading
    /// and reports its handle through <see cref="ProcessReadables"/> like any other (or calls
    /// <see cref="DrainWakeSocket"/>). Created on first use; unused by pollers that override
    /// <see cref="SignalWake"/>.
    /// </summary>
    protected Socket WakeSocket
    {
        get
        {
            ThrowIfReentrantCustomPoll();
            return EnsureLoopbackWaker().Reader;
        }
    }

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

        if (transport.Socket is not { } socket || transport.IsClosed)
        {
            throw new InvalidOperationException("The transport has no open socket; call CreateSocket or SetSocket first.");
        }

        nint handle = transport.Fileno;
        if (_channels.IsHandleHeld(handle))
        {
            throw new InvalidOperationException($"Socket handle {handle} is already registered by another transport.");
        }

        nint key = _channels.Add(transport, handle, _batch);
        ref ChannelTable.Slot slot = ref _channels.Get(key);
        slot.Dormant = socket.SocketType == SocketType.Stream && !socket.Connected && transport is not Listener { IsListening: true } && !IsListeningSocket(socket);
        slot.WriteDeferred = transport.QueuedBytes > 0; // re-added with bytes still queued: the flush goes on
        transport.AttachRegistration(key);
        try
        {
            ApplyWantedInterest(key);
        }
        catch
        {
            // docs/pitfalls.md 6: a registration the kernel refused leaves no trace here.
            transport.DetachRegistration();
            _channels.Remove(key);
            throw;
        }

        if (transport.HasCarriedInput && !transport.ReadingPaused)
        {
            DispatchCarriedLater(transport); // bytes received before it left: no kernel event will tell of them
        }
    }

    /// <summary>Stops watching <paramref name="transport"/>'s socket without closing it; <see cref="AddChannel"/> may add it again (a connect in progress is forgotten).</summary>
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
        nint key = transport.RegistrationKey;
        ref ChannelTable.Slot slot = ref _channels.Get(key);
        IoEvents applied = slot.Applied;
        try
        {
            if (ReceivesForChannels)
            {
                GiveUpReceived(transport, key);
            }

            if (applied != IoEvents.None && !_disposed)
            {
                ApplyInterest(new InterestChange(transport.Socket!, slot.Handle, key, applied, IoEvents.None, false, ReadsStream(transport, connecting: false), ref slot.BackendState));
            }
        }
        finally
        {
            transport.DetachRegistration();
            _channels.Remove(key);
        }
    }

    /// <summary>
    /// Asks for one <see cref="Transport.HandleWrite"/> when the socket can take more data.
    /// <see cref="Transport.Send"/> calls it when the socket would block.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="transport"/> is null.</exception>
    /// <exception cref="InvalidOperationException">This poller does not hold the transport, or the loop runs on another thread.</exception>
    public virtual void DeferWrite(Transport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        if (!ReferenceEquals(transport.Poller, this) || !transport.IsRegistered)
        {
            throw new InvalidOperationException("This poller does not hold the transport; DeferWrite needs a registered channel.");
        }

        ThrowIfForeignThread();
        nint key = transport.RegistrationKey;
        ref ChannelTable.Slot slot = ref _channels.Get(key);
        if (slot.WriteDeferred)
        {
            return;
        }

        slot.WriteDeferred = true;
        try
        {
            ApplyWantedInterest(key);
        }
        catch
        {
            _channels.Get(key).WriteDeferred = false; // the kernel refused: ask again next time
            throw;
        }
    }

    /// <summary>
    /// Runs iterations until <paramref name="count"/> are done or <paramref name="timeout"/> has
    /// passed, or, with neither, until <see cref="Stop"/> or until nothing is registered,
    /// scheduled or posted. <see cref="Stop"/> ends it after the current iteration. With nothing
    /// registered, <c>Loop(timeout)</c> still waits the whole timeout (a timer or a posted
    /// action may come).
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
                long until = Volatile.Read(ref _stopRequested) != 0 ? 0 : deadline;
                RunIteration(until);
                done++;
                if (Volatile.Read(ref _stopRequested) != 0 || Stopwatch.GetTimestamp() >= deadline)
                {
                    break;
                }
            }
        }
        finally
        {
            try
            {
                SubmitSends(settle: true);
            }
            finally
            {
                Interlocked.Exchange(ref _stopRequested, 0);
                Volatile.Write(ref _ownerThread, 0);
            }
        }
    }

    /// <summary>
    /// One iteration: waits at most <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>
    /// allowed) for readiness, a due timer, a <see cref="Post"/> or a <see cref="Wake"/>; then
    /// dispatches what is ready, runs posted actions and due timers.
    /// </summary>
    /// <remarks>
    /// A poller written pike's way overrides this: <see cref="Loop"/> calls the override once
    /// per iteration with the wait already bounded by the next timer (zero when an action is
    /// posted or a wake-up pending), and runs posted actions and due timers after it returns.
    /// The override waits at most <paramref name="timeout"/> and reports what is ready through
    /// <see cref="ProcessReadables"/> and <see cref="ProcessWritables"/>. Called directly (not
    /// through <see cref="Loop"/>), an override runs alone: use <c>Loop(count: 1)</c> for a full
    /// iteration of such a poller.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The poller is disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a handler, or while another thread runs the loop.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A negative timeout other than infinite.</exception>
    public virtual void Poll(TimeSpan timeout)
    {
        if (_pollCalled && IsOwnerThread)
        {
            // Called by RunIteration, which bounded the wait already.
            _pollCalled = false;
            WaitAndDispatch();
            return;
        }

        ValidateTimeout(timeout);
        RunIteration(timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Stopwatch.GetTimestamp() + ToTicks(timeout));
    }

    /// <summary>
    /// Ends the running <see cref="Loop"/> after its current iteration; when no Loop runs, the next
    /// one returns after one iteration that does not wait. Thread-safe.
    /// </summary>
    public void Stop()
    {
        Interlocked.Exchange(ref _stopRequested, 1);
        Wake();
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the loop thread, after earlier posted actions, in the
    /// iteration after the current dispatch. An exception it throws propagates out of
    /// <see cref="Loop"/> (or <see cref="Poll"/>); the actions after it run in the next
    /// iteration. Thread-safe.
    /// </summary>
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
            bool signaled = false;
            lock (_wakeGate)
            {
                if (!_disposed)
                {
                    Interlocked.Increment(ref _wakeSignals);

                    try
                    {
                        SignalWake();
                        signaled = true;
                    }
                    catch
                    {
                        Volatile.Write(ref _wakeSignaled, 0); // nothing was signaled: let the next Wake try
                        throw;
                    }
                }
            }

            // Outside the gate: a listener's callback must not run under a lock Dispose takes.
            if (signaled && ReactorMetrics.Wakeups.Enabled)
            {
                ReactorMetrics.Wakeups.Add(1, ReactorMetrics.Tag(this));
            }
        }
    }

    /// <summary>True while the loop thread is blocked in (or about to enter) the kernel wait: a <see cref="Wake"/> now signals the kernel.</summary>
    internal bool IsAsleep => Volatile.Read(ref _sleeping) != 0;

    /// <summary>
    /// Runs <paramref name="action"/> on the loop thread once <paramref name="delay"/> has passed;
    /// disposing the result cancels it. Due timers run at the end of an iteration, in due
    /// order; an exception one throws propagates out of <see cref="Loop"/> (or
    /// <see cref="Poll"/>), and the timers still due run in the next iteration. Thread-safe.
    /// </summary>
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
        _loopbackWaker?.Dispose();
        ReactorMetrics.Untrack(this);
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Names the poller.</summary>
    public override string ToString() => $"{GetType().Name}({Name}, {ChannelCount} channels)";

    /// <summary>Counts the waits that returned (kernel backends), the batches a pike-style Poll reported, and the Poll calls that returned; read by the loop's own thread.</summary>
    internal long Progress => _progress;

    internal bool HasWork => _channels.Count > 0 || _timers.Count > 0 || !_posted.IsEmpty;

    private bool IsOwnerThread => Volatile.Read(ref _ownerThread) == Environment.CurrentManagedThreadId;

    internal static IoEvents WantedInterest(ref ChannelTable.Slot slot) =>
        (slot.Dormant || slot.Channel!.ReadingPaused ? IoEvents.None : IoEvents.Read)
        | (slot.WriteDeferred || slot.Connecting ? IoEvents.Write : IoEvents.None);

    /// <summary>Brings the kernel's interest for <paramref name="transport"/> in line with what it wants now.</summary>
    internal void UpdateInterest(Transport transport)
    {
        if (transport.IsRegistered && !_disposed)
        {
            ApplyWantedInterest(transport.RegistrationKey);
        }
    }

    internal bool IsConnecting(Transport transport) => transport.IsRegistered && _channels.Get(transport.RegistrationKey).Connecting;

    /// <summary>The error kept by <see cref="ProcessEvent(nint, IoEvents, SocketError)"/> for a datagram channel, cleared as it is taken.</summary>
    internal SocketError TakePendingError(Transport transport)
    {
        if (!transport.IsRegistered)
        {
            return SocketError.Success;
        }

        ref ChannelTable.Slot slot = ref _channels.Get(transport.RegistrationKey);
        SocketError error = slot.PendingError;
        slot.PendingError = SocketError.Success;
        return error;
    }

    internal bool IsWriteDeferred(Transport transport) => transport.IsRegistered && _channels.Get(transport.RegistrationKey).WriteDeferred;

    /// <summary>Starts watching a registered transport's connect; <paramref name="immediateError"/> is what connect itself said (Success: in progress).</summary>
    internal void BeginConnect(Transport transport, SocketError immediateError)
    {
        nint key = transport.RegistrationKey;
        ref ChannelTable.Slot slot = ref _channels.Get(key);
        bool dormant = slot.Dormant;
        slot.Connecting = true;
        slot.Dormant = false;
        slot.ConnectError = immediateError;
        try
        {
            ApplyWantedInterest(key);
        }
        catch
        {
            ref ChannelTable.Slot again = ref _channels.Get(key);
            again.Connecting = false;
            again.Dormant = dormant;
            again.ConnectError = SocketError.Success;
            throw;
        }
    }

    /// <summary>Stops watching a connect that timed out; the transport reports the failure itself.</summary>
    internal void AbortConnect(Transport transport)
    {
        if (!transport.IsRegistered)
        {
            return;
        }

        nint key = transport.RegistrationKey;
        ref ChannelTable.Slot slot = ref _channels.Get(key);
        slot.Connecting = false;
        slot.ConnectError = SocketError.Success;
        try
        {
            ApplyWantedInterest(key);
        }
        catch (NativeCallException)
        {
            // The connect is abandoned anyway; its owner hears of the timeout.
        }
    }

    /// <summary>Starts watching <paramref name="transport"/> for idleness: one sweep timer per poller checks every watched channel.</summary>
    internal void WatchIdle(Transport transport)
    {
        (_idleSweep ??= new IdleSweep(this)).Watch(transport);
    }

    /// <summary>A socket that was held unwatched (neither connected nor listening) now listens.</summary>
    internal void EndDormancy(Transport transport)
    {
        if (transport.IsRegistered)
        {
            nint key = transport.RegistrationKey;
            _channels.Get(key).Dormant = false;
            ApplyWantedInterest(key);
        }
    }

    /// <summary>Closes the transport that holds <paramref name="socket"/>, if this poller has one; false when none does.</summary>
    internal bool CloseHolderOf(Socket socket)
    {
        nint handle = socket.SafeHandle.DangerousGetHandle();
        if (_channels.TryFindByHandle(handle, out nint key) && _channels.Find(key) is { } holder && ReferenceEquals(holder.Socket, socket))
        {
            holder.Close();
            return true;
        }

        return false;
    }

    internal void ThrowIfForeignThread()
    {
        int owner = Volatile.Read(ref _ownerThread);
        if (owner != 0 && owner != Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException("The poller's loop runs on another thread; use Post to act on its channels from here.");
        }
    }

    /// <summary>
    /// Dispatches the channels whose descriptors (<see cref="Transport.Fileno"/>) are readable:
    /// the original's process_readables. The handle of <see cref="WakeSocket"/> may be among them.
    /// </summary>
    /// <remarks>
    /// Descriptors no channel holds are skipped, and so is a descriptor that a channel
    /// registered during the current iteration got (it may be the number of a channel closed
    /// in this batch, whose readiness it must not inherit: docs/pitfalls.md 1). Through
    /// <see cref="Loop"/> one iteration is one batch; called outside an iteration, each call is.
    /// </remarks>
    /// <exception cref="InvalidOperationException">Called from a handler, or while the loop runs on another thread.</exception>
    protected void ProcessReadables(ReadOnlySpan<nint> readables) => ProcessFilenos(readables, IoEvents.Read);

    /// <summary>
    /// Dispatches the channels whose descriptors are writable: the original's process_writables.
    /// A connecting channel finishes connecting (<c>SO_ERROR</c>); one with a deferred write gets
    /// its one <see cref="Transport.HandleWrite"/>; for others it is ignored.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from a handler, or while the loop runs on another thread.</exception>
    protected void ProcessWritables(ReadOnlySpan<nint> writables) => ProcessFilenos(writables, IoEvents.Write);

    /// <summary>What <paramref name="transport"/> wants watched now; <see cref="IoEvents.None"/> when this poller does not hold it.</summary>
    protected ChannelInterest InterestOf(Transport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ThrowIfReentrantCustomPoll();
        if (!ReferenceEquals(transport.Poller, this) || !transport.IsRegistered)
        {
            return new ChannelInterest(transport, transport.Fileno, IoEvents.None, false);
        }

        ref ChannelTable.Slot slot = ref _channels.Get(transport.RegistrationKey);
        return new ChannelInterest(transport, slot.Handle, WantedInterest(ref slot), slot.Connecting);
    }

    /// <summary>
    /// Dispatches one channel's readiness, named by its registration key: a connecting channel
    /// first finishes connecting (<c>SO_ERROR</c>), then a readable one reads (or accepts), then
    /// a writable one whose write was deferred gets its one <see cref="Transport.HandleWrite"/>.
    /// Returns false when no channel holds <paramref name="key"/> any more (closed meanwhile,
    /// maybe in this batch): the event is dropped, and the backend may remove a stale kernel
    /// registration.
    /// </summary>
    protected bool ProcessEvent(nint key, IoEvents ready) => ProcessEvent(key, ready, SocketError.Success);

    /// <summary>
    /// As <see cref="ProcessEvent(nint, IoEvents)"/>, for a backend that learned a socket's
    /// error from the event itself (kqueue's <c>fflags</c>): for a connecting channel
    /// <paramref name="connectError"/> is the outcome the connect check uses before it asks
    /// <c>SO_ERROR</c>; a datagram channel's next receive or send throws it (a connected UDP
    /// socket's refused port, which libkqueue clears from the socket as it reports it); other
    /// channels ignore it (their next call meets the error or the end of stream).
    /// </summary>
    protected bool ProcessEvent(nint key, IoEvents ready, SocketError connectError)
    {
        Transport? channel = _channels.Find(key);
        if (channel is null)
        {
            return false;
        }

        ref ChannelTable.Slot slot = ref _channels.Get(key);
        if (slot.Connecting)
        {
            if (connectError != SocketError.Success && slot.ConnectError == SocketError.Success)
            {
                slot.ConnectError = connectError;
            }

            FinishConnect(channel, key);
            if (channel.RegistrationKey != key || IsConnecting(channel) || !channel.Connected)
            {
                return true; // closed, still connecting, or failed (HandleError has heard of it)
            }

            ready &= ~IoEvents.Write;
        }
        else if (connectError != SocketError.Success && channel is DatagramTransport && slot.PendingError == SocketError.Success)
        {
            slot.PendingError = connectError;
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
                    channel.DispatchRead();
                }
                catch (Exception error)
                {
                    RouteError(channel, error);
                }
            }

            if (channel.RegistrationKey != key)
            {
                return true;
            }
        }

        // Handlers may have added channels: the table may have moved, so the slot is looked up again.
        if ((ready & IoEvents.Write) != 0 && _channels.Get(key).WriteDeferred)
        {
            _channels.Get(key).WriteDeferred = false;
            try
            {
                channel.DispatchWrite();
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

    /// <summary>
    /// The largest <see cref="Transport.Write(ReadOnlySpan{byte})"/> that this poller carries with
    /// its next wait instead of a send call (0, the default: every write is sent at once). A
    /// backend that sets it implements <see cref="QueueSend"/> and <see cref="SubmitSends"/>, and
    /// reports each request through <see cref="ProcessSendCompletion"/>. Only writes made inside
    /// an iteration of <see cref="Loop"/> or <see cref="Poll"/> on its thread (by a handler, a
    /// posted action or a timer) into an empty queue go this way (docs/io_uring.md, "Sends with the wait").
    /// </summary>
    protected internal int SendWithWaitLimit { get; protected set; }

    /// <summary>
    /// Copies <paramref name="data"/> (at most <see cref="SendWithWaitLimit"/> bytes) into a send
    /// request on socket <paramref name="handle"/> that the next wait submits at the latest; the
    /// request must not wait for the socket (its completion reports what went, or EAGAIN), and
    /// its completion goes to <see cref="ProcessSendCompletion"/> with <paramref name="token"/>.
    /// Returns false when the backend has no room; the core then sends with a send call. The
    /// default has no room.
    /// </summary>
    protected virtual bool QueueSend(int token, nint handle, ReadOnlySpan<byte> data) => false;

    /// <summary>
    /// Submits the send requests queued since the last wait, now. <paramref name="settle"/> false:
    /// a transport is closing its socket (a request names the descriptor, whose number a new
    /// socket may get next). True: the loop is returning, and every request's completion is to be
    /// reported now (as far as the kernel has posted it), so that nothing waits for an iteration
    /// that may not come. The default does nothing.
    /// </summary>
    protected virtual void SubmitSends(bool settle)
    {
    }

    /// <summary>
    /// A send request of <see cref="QueueSend"/> completed: <paramref name="result"/> is the bytes
    /// sent or a negated errno, <paramref name="unsent"/> the bytes of the request that did not go
    /// (they return to the front of the transport's queue). Each token is reported once.
    /// </summary>
    protected void ProcessSendCompletion(int token, int result, ReadOnlySpan<byte> unsent)
    {
        Transport? channel = _sendOwners[token];
        _sendOwners[token] = null;
        _freeSendTokens[_freeSendTokenCount++] = token;
        if (channel is null)
        {
            return;
        }

        try
        {
            channel.CompleteSendRequest(result, unsent);
        }
        catch (Exception error)
        {
            RouteError(channel, error);
        }
    }

    /// <summary>
    /// Whether the transport of the send request <paramref name="token"/> waits for its completion
    /// to go on (bytes queued behind it, a half-close or a lingering close, or its writability): a
    /// backend whose wait would otherwise sleep past that completion makes it return with it.
    /// </summary>
    protected bool IsSendCompletionAwaited(int token) => _sendOwners[token] is { AwaitsSendCompletion: true };

    /// <summary>For <see cref="Transport"/>: it closes its socket while a send request of it may still be in the submission ring.</summary>
    internal void SubmitSendsBeforeClose() => SubmitSends(settle: false);

    /// <summary>For <see cref="Transport"/>: a send request for <paramref name="data"/> with the next wait, when one can go now; false otherwise.</summary>
    internal bool QueueSendRequest(Transport transport, ReadOnlySpan<byte> data)
    {
        if (SendWithWaitLimit == 0 || !_inIteration || !IsOwnerThread || !transport.IsRegistered)
        {
            return false;
        }

        ref ChannelTable.Slot slot = ref _channels.Get(transport.RegistrationKey);
        if (slot.Connecting)
        {
            return false; // a connecting socket's bytes wait in the queue
        }

        nint handle = slot.Handle;
        if (_freeSendTokenCount == 0)
        {
            // More requests out than ever before: twice the tokens (64 at first).
            int grown = Math.Max(64, _sendOwners.Length * 2);
            Array.Resize(ref _freeSendTokens, grown); // room for every token to be free at once
            for (int i = grown - 1; i >= _sendOwners.Length; i--)
            {
                _freeSendTokens[_freeSendTokenCount++] = i;
            }

            Array.Resize(ref _sendOwners, grown);
        }

        int token = _freeSendTokens[--_freeSendTokenCount];
        _sendOwners[token] = transport;
        if (QueueSend(token, handle, data))
        {
            return true;
        }

        _sendOwners[token] = null;
        _freeSendTokens[_freeSendTokenCount++] = token;
        return false;
    }

    /// <summary>A <see cref="TakeReceived"/> answer: the backend holds nothing for the channel, and the core reads with a receive call.</summary>
    protected internal const int ReceiveWithCall = int.MinValue;

    /// <summary>A <see cref="TakeReceived"/> answer: the kernel reported the end of the stream (the peer closed its end).</summary>
    protected internal const int ReceivedEnd = int.MinValue + 1;

    /// <summary>
    /// Whether this backend receives for its channels (<see cref="TakeReceived"/>); false, the
    /// default: <see cref="Transport.Recv(Span{byte})"/> always reads with a receive call.
    /// </summary>
    protected bool ReceivesForChannels { get; set; }

    /// <summary>
    /// For a backend that receives for its channels (<see cref="ReceivesForChannels"/>): hands the
    /// channel registered under <paramref name="key"/> what the kernel received for it, as
    /// <see cref="Transport.Recv(Span{byte})"/> reads it. Returns the bytes copied into
    /// <paramref name="buffer"/> (never empty); 0 when nothing is to be read now (a receive
    /// request of the backend's is out, and what comes next comes with its completion);
    /// <see cref="ReceivedEnd"/> at the end of the stream; a negated errno for a receive that
    /// failed (reported once); or <see cref="ReceiveWithCall"/> when the backend holds nothing and
    /// no request of its can overtake a receive call, which the core then makes. The default
    /// holds nothing (docs/io_uring.md, "Receives through the ring").
    /// </summary>
    protected virtual int TakeReceived(nint key, Span<byte> buffer) => ReceiveWithCall;

    /// <summary>For <see cref="Transport.Recv(Span{byte})"/>: what the backend holds for it (a <see cref="TakeReceived"/> answer).</summary>
    internal int TakeReceivedFor(Transport transport, Span<byte> buffer) =>
        ReceivesForChannels && transport.IsRegistered ? TakeReceived(transport.RegistrationKey, buffer) : ReceiveWithCall;

    /// <summary>
    /// The registration of <paramref name="transport"/> ends: what the backend received for it and
    /// it did not read goes to the transport, whose Recv returns it first (a transport re-added
    /// later loses nothing), or, when the transport closes, back to the backend.
    /// </summary>
    private void GiveUpReceived(Transport transport, nint key)
    {
        Span<byte> chunk = stackalloc byte[1024];
        while (true)
        {
            int taken = TakeReceived(key, chunk);
            if (taken > 0)
            {
                if (!transport.IsClosed)
                {
                    transport.Carry(chunk[..taken]);
                }

                continue;
            }

            if (taken is < 0 and not ReceiveWithCall and not ReceivedEnd && !transport.IsClosed)
            {
                transport.CarryError(-taken); // (the end of the stream stays in the socket: a receive call sees it again)
            }

            return;
        }
    }

    /// <summary>A HandleRead for bytes <paramref name="transport"/> carries (<see cref="Transport.HasCarriedInput"/>), at the next iteration; again while it reads and some are left.</summary>
    internal void DispatchCarriedLater(Transport transport) => Post(() =>
    {
        if (!ReferenceEquals(transport.Poller, this) || !transport.IsRegistered || transport.IsClosed || transport.ReadingPaused || !transport.HasCarriedInput)
        {
            return;
        }

        ProcessEvent(transport.RegistrationKey, IoEvents.Read);
        if (transport.IsRegistered && !transport.IsClosed && !transport.ReadingPaused && transport.HasCarriedInput)
        {
            DispatchCarriedLater(transport);
        }
    });

    /// <summary>Whether a backend may receive for <paramref name="channel"/> (<see cref="InterestChange.ReadsStream"/>).</summary>
    private static bool ReadsStream(Transport channel, bool connecting) =>
        !connecting && channel is not Listener && channel.Socket is { SocketType: SocketType.Stream };

    /// <summary>Calls the HandleError of the channel registered under <paramref name="key"/>; a backend uses it for a registration change the kernel refused late.</summary>
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

    /// <summary>The backend's own value for the live registration <paramref name="key"/> (the one <see cref="InterestChange.State"/> holds); false when that registration has ended.</summary>
    protected bool TryGetBackendState(nint key, out nint state)
    {
        if (_channels.Find(key) is null)
        {
            state = 0;
            return false;
        }

        state = _channels.Get(key).BackendState;
        return true;
    }

    /// <summary>Sets the backend's own value of another live registration (a dense array that moved its entry, for example).</summary>
    /// <exception cref="InvalidOperationException">No channel is registered under <paramref name="key"/>.</exception>
    protected void SetBackendState(nint key, nint state) => _channels.Get(key).BackendState = state;

    /// <summary>
    /// Tells the kernel of an interest change: add the socket (<see cref="InterestChange.IsAdd"/>),
    /// change what it is watched for, or remove it (<see cref="InterestChange.IsRemove"/>, called
    /// before the socket closes). Throws when the kernel refuses; the core then keeps the
    /// interest it had (and, for an add, the channel is not registered). A removal must not throw
    /// for a handle the kernel dropped already. The default does nothing: a poller that
    /// overrides <see cref="Poll"/> reads interest from <see cref="WatchedChannels"/> instead.
    /// </summary>
    protected virtual void ApplyInterest(in InterestChange change)
    {
    }

    /// <summary>
    /// Blocks in the kernel for at most <paramref name="timeoutMilliseconds"/> (-1: no limit,
    /// 0: do not block). Returns how many events are ready for <see cref="DispatchEvents"/>,
    /// or -1 when the wait was interrupted before anything happened. Kernel backends override
    /// it; a poller written pike's way overrides <see cref="Poll"/> instead.
    /// </summary>
    protected virtual int WaitForEvents(int timeoutMilliseconds) =>
        throw new InvalidOperationException($"{GetType().Name} overrides neither Poll nor WaitForEvents: a poller reports readiness one way or the other (see docs/custom-poller.md).");

    /// <summary>
    /// Dispatches the <paramref name="count"/> events the last wait returned: each channel's
    /// through <see cref="ProcessEvent(nint, IoEvents)"/>, the wake-up by draining it and calling
    /// <see cref="AcknowledgeWake"/>.
    /// </summary>
    protected virtual void DispatchEvents(int count) =>
        throw new InvalidOperationException($"{GetType().Name} overrides WaitForEvents but not DispatchEvents.");

    /// <summary>Makes room for more events per wait, after one came back full.</summary>
    protected virtual void GrowEventCapacity()
    {
    }

    /// <summary>
    /// Makes the blocked wait return. Called from any thread, at most once until the backend
    /// calls <see cref="AcknowledgeWake"/>, and never after the poller is disposed. The default
    /// makes <see cref="WakeSocket"/> readable.
    /// </summary>
    protected virtual void SignalWake() => EnsureLoopbackWaker().Signal();

    /// <summary>The backend drained its wake-up signal: the next <see cref="Wake"/> signals again.</summary>
    protected void AcknowledgeWake() => Volatile.Write(ref _wakeSignaled, 0);

    /// <summary>Empties <see cref="WakeSocket"/> and acknowledges the wake-up, for a backend that watches it itself.</summary>
    protected void DrainWakeSocket()
    {
        _loopbackWaker?.Drain();
        AcknowledgeWake();
    }

    /// <summary>Releases the backend's kernel resources; channels are already closed.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the poller is disposed.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>
    /// Sends a handler's exception where the contract says: end of stream, a disposed socket
    /// and the reset/abort/not-connected/shutdown socket errors close the channel
    /// (<see cref="Transport.HandleClose()"/>); anything else goes to <see cref="Transport.HandleError"/>.
    /// What those two throw propagates out of the loop.
    /// </summary>
    internal static void RouteError(Transport channel, Exception error) => channel.RouteError(error);

    internal static bool IsCloseError(Exception error) =>
        error is EndOfStreamException or ObjectDisposedException
        || (error is SocketException socketError && socketError.SocketErrorCode is
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.NotConnected or SocketError.Shutdown);

    /// <summary>The one place that tells the backend of interest: compares what the slot wants with what was applied.</summary>
    private void ApplyWantedInterest(nint key)
    {
        ref ChannelTable.Slot slot = ref _channels.Get(key);
        IoEvents wanted = WantedInterest(ref slot);

        // docs/pitfalls.md 3: an empty mask is a removal, never an empty registration
        // (Netty #16683: an empty epoll mask still reported EPOLLERR/EPOLLHUP forever).
        bool connecting = slot.Connecting && wanted != IoEvents.None;
        IoEvents previous = slot.Applied;
        bool wasConnecting = slot.AppliedConnecting;
        if (wanted == previous && connecting == wasConnecting)
        {
            return;
        }

        slot.Applied = wanted;
        slot.AppliedConnecting = connecting;
        try
        {
            ApplyInterest(new InterestChange(slot.Channel!.Socket!, slot.Handle, key, previous, wanted, connecting, ReadsStream(slot.Channel, connecting), ref slot.BackendState));
        }
        catch
        {
            ref ChannelTable.Slot again = ref _channels.Get(key);
            again.Applied = previous;
            again.AppliedConnecting = wasConnecting;
            throw;
        }
    }

    /// <summary>A socket handed over already listening (SetSocket after the owner's own Listen) is watched at once.</summary>
    private static bool IsListeningSocket(Socket socket)
    {
        if (!socket.IsBound)
        {
            return false;
        }

        try
        {
            return socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.AcceptConnection) is int accepting && accepting != 0;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void DropWriteInterestUnlessWanted(Transport channel, nint key)
    {
        if (channel.RegistrationKey == key && !_channels.Get(key).WriteDeferred)
        {
            ApplyWantedInterest(key);
        }
    }

    private void FinishConnect(Transport channel, nint key)
    {
        Socket socket = channel.Socket!;
        SocketError error = _channels.Get(key).ConnectError;
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

        ref ChannelTable.Slot slot = ref _channels.Get(key);
        slot.Connecting = false;
        slot.ConnectError = SocketError.Success;
        if (error != SocketError.Success)
        {
            try
            {
                ApplyWantedInterest(key);
            }
            catch (NativeCallException)
            {
                // The socket failed already; its owner hears of the connect error, which is the cause.
            }

            channel.ConnectFailed(error);
            return;
        }

        channel.MarkConnected(remote!);
        try
        {
            ApplyWantedInterest(key);
            channel.HandleConnect();
        }
        catch (Exception handlerError)
        {
            RouteError(channel, handlerError);
        }
    }

    /// <summary>
    /// A poller that overrides Poll reaches the core through WatchedChannels, InterestOf,
    /// WakeSocket and ProcessReadables/ProcessWritables: each refuses a Poll called from a
    /// handler, a posted action or a timer (or from another thread while the loop runs) before
    /// the override could block in its own wait.
    /// </summary>
    private void ThrowIfReentrantCustomPoll()
    {
        ThrowIfForeignThread();
        if (_reportingFilenos || (_inIteration && !_inPollCall))
        {
            throw new InvalidOperationException("Poll and Loop are not re-entrant: they cannot be called from a handler.");
        }
    }

    private void ProcessFilenos(ReadOnlySpan<nint> filenos, IoEvents ready)
    {
        ThrowIfDisposed();
        ThrowIfReentrantCustomPoll();
        _progress++;
        Interlocked.Exchange(ref _sleeping, 0); // the wait is over: a Wake from now on needs no signal
        Interlocked.Exchange(ref _wakeRequested, 0);
        _pollCalled = false;
        if (!_inIteration)
        {
            _batch++;
        }

        long batch = _batch;
        nint wakeHandle = _loopbackWaker?.ReaderHandle ?? -1;
        _reportingFilenos = true;
        try
        {
            foreach (nint fileno in filenos)
            {
                if (fileno == wakeHandle)
                {
                    if (ready == IoEvents.Read)
                    {
                        DrainWakeSocket();
                    }

                    continue;
                }

                if (_channels.TryFindByHandle(fileno, out nint key) && _channels.Get(key).AddedInBatch != batch)
                {
                    ProcessEvent(key, ready);
                }
            }
        }
        finally
        {
            _reportingFilenos = false;
        }
    }

    /// <summary>
    /// One iteration: guards against re-entry, works out how long to wait (the deadline, timers,
    /// pending posts and wake-ups), calls <see cref="Poll"/> (a kernel backend's wait and
    /// dispatch, or a custom poller's override), then runs posted actions and due timers.
    /// </summary>
    private void RunIteration(long until)
    {
        ThrowIfDisposed();
        bool owns = EnterIteration();
        try
        {
            _batch++;

            long now = Stopwatch.GetTimestamp();
            long waitUntil = Math.Min(until, _timers.NextDue());

            Interlocked.Exchange(ref _sleeping, 1);
            // Stop() wakes through Wake(); a stop flag nobody consumed (no Loop running) must
            // not turn every later Poll into a busy poll.
            if (Interlocked.Exchange(ref _wakeRequested, 0) != 0 || !_posted.IsEmpty)
            {
                waitUntil = now;
            }

            _waitUntil = waitUntil;
            int milliseconds = ToWaitMilliseconds(waitUntil, now);
            _pollCalled = true;
            _inPollCall = true;
            Poll(milliseconds < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(milliseconds));
            _progress++;
            _inPollCall = false;
            _pollCalled = false;
            Interlocked.Exchange(ref _sleeping, 0);

            // A Wake that came during dispatch stays requested: the next wait does not block.

            RunPosted();
            RunDueTimers();
        }
        finally
        {
            Interlocked.Exchange(ref _sleeping, 0);
            _pollCalled = false;
            _inPollCall = false;
            _inIteration = false;
            if (owns)
            {
                // A Poll called on its own: its writes must not wait for a next iteration.
                try
                {
                    SubmitSends(settle: true);
                }
                finally
                {
                    Volatile.Write(ref _ownerThread, 0);
                }
            }
        }
    }

    /// <summary>The kernel backends' iteration body: wait (again with what remains after an interruption), dispatch, and take more while the buffer comes back full.</summary>
    private void WaitAndDispatch()
    {
        // The clock is read only while something listens (ReactorMetrics).
        long started = ReactorMetrics.TimingWaits ? Stopwatch.GetTimestamp() : 0;
        int ready;
        while (true)
        {
            ready = WaitForEvents(ToWaitMilliseconds(_waitUntil, Stopwatch.GetTimestamp()));
            if (ready >= 0)
            {
                _progress++;
                break;
            }

            // Interrupted (EINTR): wait only for what remains (docs/pitfalls.md 4).
        }

        Interlocked.Exchange(ref _wakeRequested, 0);
        Interlocked.Exchange(ref _sleeping, 0);

        if (started != 0)
        {
            long waited = Stopwatch.GetTimestamp();
            DispatchEvents(ready);
            RecordWait(ready, started, waited, Stopwatch.GetTimestamp());
        }
        else
        {
            DispatchEvents(ready);
        }

        // docs/pitfalls.md 9: a full buffer means more is waiting; take it now rather
        // than spread a burst over iterations (libuv re-polls, Netty grows its array).
        for (int i = 0; i < MaxRepolls && ready >= EventCapacity; i++)
        {
            GrowEventCapacity();
            started = ReactorMetrics.TimingWaits ? Stopwatch.GetTimestamp() : 0;
            ready = WaitForEvents(0);
            if (ready <= 0)
            {
                if (started != 0)
                {
                    long now = Stopwatch.GetTimestamp();
                    RecordWait(Math.Max(ready, 0), started, now, now);
                }

                break;
            }

            if (started != 0)
            {
                long waited = Stopwatch.GetTimestamp();
                DispatchEvents(ready);
                RecordWait(ready, started, waited, Stopwatch.GetTimestamp());
            }
            else
            {
                DispatchEvents(ready);
            }
        }
    }

    private void RecordWait(int events, long started, long waited, long dispatched)
    {
        KeyValuePair<string, object?> tag = ReactorMetrics.Tag(this);
        ReactorMetrics.WaitEvents.Record(events, tag);
        ReactorMetrics.WaitDuration.Record(Stopwatch.GetElapsedTime(started, waited).TotalSeconds, tag);
        ReactorMetrics.DispatchDuration.Record(Stopwatch.GetElapsedTime(waited, dispatched).TotalSeconds, tag);
    }

    private LoopbackWaker EnsureLoopbackWaker()
    {
        LoopbackWaker? waker = Volatile.Read(ref _loopbackWaker);
        if (waker is not null)
        {
            return waker;
        }

        ThrowIfDisposed();
        var created = new LoopbackWaker();
        waker = Interlocked.CompareExchange(ref _loopbackWaker, created, null);
        if (waker is not null)
        {
            created.Dispose();
            return waker;
        }

        return created;
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

    private bool EnterIteration()
    {
        int me = Environment.CurrentManagedThreadId;
        int owner = Interlocked.CompareExchange(ref _ownerThread, me, 0);
        if (owner != 0 && owner != me)
        {
            throw new InvalidOperationException("Another thread is running this poller's loop; Poll and Loop are not re-entrant.");
        }

        if (_inIteration || _reportingFilenos)
        {
            if (owner == 0)
            {
                Volatile.Write(ref _ownerThread, 0);
            }

            throw new InvalidOperationException("Poll and Loop are not re-entrant: they cannot be called from a handler.");
        }

        _inIteration = true;
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

    private static void ValidateTimeout(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must not be negative (Timeout.InfiniteTimeSpan waits without limit).");
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
