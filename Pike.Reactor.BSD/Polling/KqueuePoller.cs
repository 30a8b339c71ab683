using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using K = Pike.Reactor.BSD.Interop.Kqueue;

namespace Pike.Reactor.BSD;

/// <summary>
/// kqueue/kevent for macOS, FreeBSD, OpenBSD and NetBSD, and for Linux through a library with
/// libkqueue's API. Reads are a level-triggered <c>EVFILT_READ</c>; write interest is an
/// <c>EVFILT_WRITE</c> with <c>EV_ONESHOT</c>, present only while a channel connects or has a
/// deferred write; the wake-up is an <c>EVFILT_USER</c> event. Each registration's
/// <c>udata</c> is its key, never the descriptor, so that an event of a channel closed earlier
/// in the batch never reaches a channel that reused the number (shared/PITFALLS.md 1).
/// </summary>
/// <remarks>
/// Interest changes are appended to a changelist that the next <c>kevent</c> wait applies, so
/// deferring a write or pausing a read costs no system call of its own. The exception is a new
/// registration (<see cref="BasePoller.AddChannel"/>): the core expects a refused registration
/// to throw there and then (shared/PITFALLS.md 6), so it is applied at once, together with
/// whatever is pending, in one <c>kevent</c> call whose entries carry <c>EV_RECEIPT</c>. Errors
/// of pending entries that belong to other channels reach those channels' HandleError.
/// </remarks>
public sealed unsafe class KqueuePoller : BasePoller
{
    /// <summary>The event buffer's size (in kevents, that is filters, not channels) when none is given.</summary>
    public const int DefaultEventCapacity = 256;

    private const int MaxEventCapacity = 65536;
    private const int ChangeFlushThreshold = 1024;
    private const byte ReadArmed = 1;
    private const byte WriteArmed = 2;

    private readonly KqueueLibrary _library;
    private readonly KeventAbi _abi;

    // Stays -1 when the constructor throws; the finalizer still runs then.
    private int _kq = -1;

    private byte* _events;
    private int _capacity;
    private byte* _changes;
    private int _changeCount;
    private int _changeCapacity;
    private byte* _receipts;
    private int _receiptCapacity;

    private Slot[] _slots = new Slot[64];
    private int[] _mergeIndex = new int[64];   // per slot: 1 + index into _ready during a batch's first pass
    private ReadyEntry[] _ready = new ReadyEntry[64];
    private ReadyEntry[] _late = new ReadyEntry[8];
    private int _lateCount;
    private long _keventCalls;
    private long _dispatchedKevents;
    private long _dispatchedEntries;

    /// <summary>
    /// Opens a kqueue from the C library of this macOS or BSD, or, elsewhere, from the library
    /// that <c>PIKE_REACTOR_KQUEUE_LIBRARY</c> names.
    /// </summary>
    /// <exception cref="PollerUnavailableException">No kqueue here (not a BSD, and no library named).</exception>
    /// <exception cref="NativeCallException">kqueue or the wake-up registration failed.</exception>
    public KqueuePoller()
        : this(null)
    {
    }

    /// <summary>Opens a kqueue from <paramref name="libraryPath"/> (a library with libkqueue's API), or as <see cref="KqueuePoller()"/> when null.</summary>
    /// <param name="libraryPath">A libkqueue-compatible library; null for this OS's own kqueue or the configured library.</param>
    /// <param name="eventCapacity">Kevents one wait can return before the buffer grows (it doubles when a wait fills it).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="eventCapacity"/> is not positive.</exception>
    /// <exception cref="PollerUnavailableException">No kqueue here.</exception>
    /// <exception cref="DllNotFoundException">The library does not load.</exception>
    /// <exception cref="EntryPointNotFoundException">The library lacks kqueue or kevent.</exception>
    /// <exception cref="NativeCallException">kqueue or the wake-up registration failed.</exception>
    public KqueuePoller(string? libraryPath, int eventCapacity = DefaultEventCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(eventCapacity);
        if (IntPtr.Size != 8)
        {
            throw new PollerUnavailableException(KqueueHost.UnavailableReason()!);
        }

        _library = libraryPath is null ? KqueueHost.DefaultLibrary() : KqueueLibrary.Load(libraryPath, KeventAbi.Current);
        _abi = _library.Abi;
        int kq = _library.Kqueue(out int errno);
        if (kq < 0)
        {
            throw new NativeCallException($"kqueue() from {_library.Description}", errno);
        }

        _kq = kq;
        _capacity = Math.Min(eventCapacity, MaxEventCapacity);
        _events = (byte*)NativeMemory.Alloc((nuint)_capacity, (nuint)_abi.Size);
        _changeCapacity = 64;
        _changes = (byte*)NativeMemory.Alloc((nuint)_changeCapacity, (nuint)_abi.Size);
        _receiptCapacity = 64;
        _receipts = (byte*)NativeMemory.Alloc((nuint)_receiptCapacity, (nuint)_abi.Size);
        try
        {
            // EV_CLEAR: the trigger resets once reported, so a wake-up is seen once.
            Queue(0, _abi.UserFilter, K.EV_ADD | K.EV_CLEAR, (nint)WakeKey);
            int failed = ApplyChangesNow((nint)WakeKey, out _);
            if (failed != 0)
            {
                throw new NativeCallException($"kevent(EV_ADD EVFILT_USER) on {_library.Description}", failed);
            }
        }
        catch
        {
            Interop.Libc.close(_kq);
            _kq = -1; // the finalizer must not close the number again
            FreeNative();
            throw;
        }
    }

    /// <summary>Releases the kernel resources of a poller nobody disposed.</summary>
    ~KqueuePoller()
    {
        Dispose(false);
    }

    /// <inheritdoc/>
    public override string Name => "kqueue";

    /// <summary>The kqueue descriptor.</summary>
    public int Handle => _kq;

    /// <summary>Where kqueue and kevent came from: "the C library" or the library's path.</summary>
    public string LibraryDescription => _library.Description;

    /// <summary>How many kevent calls this poller has made (waits, immediate registrations, wake-ups).</summary>
    internal long KeventCalls => System.Threading.Interlocked.Read(ref _keventCalls);

    /// <summary>Kevents the waits returned so far, and the channel dispatches they became (read and write of one channel merge).</summary>
    internal (long Kevents, long Dispatches) DispatchCounts => (_dispatchedKevents, _dispatchedEntries);

    /// <summary>Changes waiting for the next kevent call.</summary>
    internal int PendingChanges => _changeCount;

    internal KeventAbi Abi => _abi;

    /// <inheritdoc/>
    protected override int EventCapacity => _capacity;

    /// <inheritdoc/>
    public override void Poll(TimeSpan timeout) => PollCore(timeout);

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        // Every pending change must find room for its EV_ERROR entry, or kevent stops at the
        // first failing one and returns -1 (kqueue(2)).
        EnsureEventRoom(_changeCount);
        Timespec timeout = new() { Seconds = timeoutMilliseconds / 1000, Nanoseconds = timeoutMilliseconds % 1000 * 1_000_000 };
        int count = _changeCount;
        int ready = CallKevent(_changes, count, _events, _capacity, timeoutMilliseconds < 0 ? null : &timeout, out int errno);
        _changeCount = 0;
        if (ready >= 0)
        {
            return ready;
        }

        // shared/PITFALLS.md 12: EINTR from kevent means the changes were applied (kqueue(2));
        // wait again with what remains, without them.
        return errno == Interop.Libc.EINTR ? -1 : throw new NativeCallException($"kevent(kq {_kq}, {count} changes)", errno);
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        // First pass: the batch becomes one entry per channel. Read and write readiness of one
        // descriptor arrive as two kevents, and a handler must see them together, or a connect
        // failure is seen as a read before the connect check (shared/PITFALLS.md 13, CPython
        // gh-110038). Nothing here calls a handler, so the batch is still intact.
        int entries = CollectLate();
        for (int i = 0; i < count; i++)
        {
            byte* ev = _events + (i * _abi.Size);
            nint key = _abi.ReadUdata(ev);
            short filter = _abi.ReadFilterOf(ev);
            ushort flags = _abi.ReadFlags(ev);
            if ((flags & K.EV_ERROR) != 0)
            {
                // EV_ERROR marks only a changelist entry the kernel refused, never readiness
                // (shared/PITFALLS.md 10, mio is_error).
                if (ChangeFailed(key, filter, (int)_abi.ReadData(ev), KeventAbi.ReadIdent(ev), out ReadyEntry failure))
                {
                    AddEntry(ref entries, failure);
                }

                continue;
            }

            if (key == (nint)WakeKey)
            {
                // EV_CLEAR reset the trigger as it was reported: nothing to drain.
                AcknowledgeWake();
                continue;
            }

            int connectError = 0;
            IoEvents ready;
            if (filter == _abi.ReadFilter)
            {
                // Read-side EV_EOF: the read that follows sees the end of stream or the error.
                ready = IoEvents.Read;
            }
            else if (filter == _abi.WriteFilter)
            {
                ready = IoEvents.Write;
                WriteFired(key);

                // A failed connect is EVFILT_WRITE + EV_EOF with the errno in fflags
                // (shared/PITFALLS.md 10). The connect check must not depend on SO_ERROR:
                // libkqueue reads SO_ERROR to fill fflags, which clears it. Write-side EV_EOF
                // with no error is not a hang-up (shared/PITFALLS.md 11, mio #1087): it stays
                // plain write readiness, and the write that follows finds out.
                uint fflags = _abi.ReadFflags(ev);
                if ((flags & K.EV_EOF) != 0 && fflags != 0)
                {
                    connectError = (int)fflags;
                }
            }
            else
            {
                continue;
            }

            Merge(ref entries, key, ready, connectError);
        }

        _dispatchedKevents += count;
        _dispatchedEntries += entries;
        for (int i = 0; i < entries; i++)
        {
            int slot = SlotIndex(_ready[i].Key);
            if (_ready[i].ChangeError == 0 && (uint)slot < (uint)_mergeIndex.Length)
            {
                _mergeIndex[slot] = 0;
            }
        }

        // Second pass: dispatch. Handlers may close, open and register channels; a closed
        // channel's key no longer finds it, and a reused slot has a new key. A handler's
        // exception may leave the loop (Transport.HandleError rethrows): the entries not yet
        // dispatched must not lose what the first pass took from them (see RestoreUndispatched).
        int next = 0;
        try
        {
            for (; next < entries; next++)
            {
                ReadyEntry entry = _ready[next];
                if (entry.ChangeError != 0)
                {
                    ReportChannelError(entry.Key, new NativeCallException($"kevent({FilterName(entry.Filter)} change, fd {entry.Ident})", entry.ChangeError));
                    continue;
                }

                if (entry.ConnectError != 0)
                {
                    SetConnectError(entry.Key, entry.ConnectError);
                }

                if (!ProcessEvent(entry.Key, entry.Events))
                {
                    if (TryGetStaleHandle(entry.Key, out nint stale))
                    {
                        // shared/PITFALLS.md 2: a registration nobody holds would be reported
                        // forever; drop it (ENOENT, if it is already gone, is ignored).
                        Queue((nuint)stale, _abi.ReadFilter, K.EV_DELETE, entry.Key);
                        Queue((nuint)stale, _abi.WriteFilter, K.EV_DELETE, entry.Key);
                    }

                    continue;
                }

                RearmWrite(entry.Key);
            }
        }
        finally
        {
            if (next < entries)
            {
                RestoreUndispatched(next, entries);
            }
        }
    }

    /// <inheritdoc/>
    protected override void GrowEventCapacity()
    {
        if (_capacity >= MaxEventCapacity)
        {
            return;
        }

        // Realloc first: if it throws, the buffer and the size the kernel is told still agree.
        int capacity = _capacity * 2;
        _events = (byte*)NativeMemory.Realloc(_events, (nuint)capacity * (nuint)_abi.Size);
        _capacity = capacity;
    }

    /// <inheritdoc/>
    protected override void RegisterHandle(nint handle, nint key, IoEvents interest)
    {
        int slot = SlotIndex(key);
        EnsureSlot(slot);
        ref Slot state = ref _slots[slot];
        state = new Slot { Key = key, Handle = handle, Live = true, Interest = interest };
        if ((interest & IoEvents.Read) != 0)
        {
            Queue((nuint)handle, _abi.ReadFilter, K.EV_ADD, key);
            state.Armed |= ReadArmed;
        }

        if ((interest & IoEvents.Write) != 0)
        {
            Queue((nuint)handle, _abi.WriteFilter, K.EV_ADD | K.EV_ONESHOT, key);
            state.Armed |= WriteArmed;
        }

        // shared/PITFALLS.md 6: a refused registration must throw here, so that the core rolls
        // its bookkeeping back; it cannot wait for the next wait's changelist.
        int failed = ApplyChangesNow(key, out short failedFilter);
        if (failed != 0)
        {
            _slots[slot] = default;
            Queue((nuint)handle, _abi.ReadFilter, K.EV_DELETE, key);
            Queue((nuint)handle, _abi.WriteFilter, K.EV_DELETE, key);
            throw new NativeCallException($"kevent(EV_ADD {FilterName(failedFilter)}, fd {handle})", failed);
        }
    }

    /// <inheritdoc/>
    protected override void ModifyHandle(nint handle, nint key, IoEvents previous, IoEvents interest)
    {
        int slot = SlotIndex(key);
        EnsureSlot(slot);
        ref Slot state = ref _slots[slot];
        state.Key = key;
        state.Handle = handle;
        state.Live = true;
        state.Interest = interest;
        Arm(ref state, handle, key, interest);
        FlushIfLong();
    }

    /// <inheritdoc/>
    protected override void UnregisterHandle(nint handle, nint key)
    {
        int slot = SlotIndex(key);
        if ((uint)slot < (uint)_slots.Length && _slots[slot].Live && _slots[slot].Key == key)
        {
            // Queued, not applied: the descriptor is usually closed next, which drops its
            // knotes anyway, and the delete then fails with EBADF or ENOENT, both ignored.
            Arm(ref _slots[slot], handle, key, IoEvents.None);
            _slots[slot] = default;
        }

        FlushIfLong();
    }

    /// <inheritdoc/>
    protected override void SignalWake()
    {
        byte* trigger = stackalloc byte[64];
        _abi.Write(trigger, 0, _abi.UserFilter, 0, K.NOTE_TRIGGER, 0, (nint)WakeKey);
        int errno;
        while (CallKevent(trigger, 1, null, 0, null, out errno) < 0)
        {
            if (errno != Interop.Libc.EINTR)
            {
                throw new NativeCallException($"kevent(NOTE_TRIGGER EVFILT_USER, kq {_kq})", errno);
            }
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (_kq >= 0)
        {
            Interop.Libc.close(_kq);
            _kq = -1;
        }

        FreeNative();
        base.Dispose(disposing);
    }

    /// <summary>
    /// Hands a connect failure learned from the event itself to the core's connect check, which
    /// uses a pending error before it asks SO_ERROR. (The core lets this assembly see that
    /// internal state: it is the one backend that learns the outcome from the event.)
    /// </summary>
    private void SetConnectError(nint key, int errno)
    {
        if (FindChannel(key) is { IsConnecting: true, PendingConnectError: null } channel)
        {
            // SocketException's parameterless constructor maps the last errno of this OS to a
            // SocketError, the mapping the runtime's own socket calls use.
            Marshal.SetLastPInvokeError(errno);
            channel.PendingConnectError = new SocketException().SocketErrorCode;
        }
    }

    private void Arm(ref Slot state, nint handle, nint key, IoEvents interest)
    {
        bool wantRead = (interest & IoEvents.Read) != 0;
        bool wantWrite = (interest & IoEvents.Write) != 0;
        if (wantRead != ((state.Armed & ReadArmed) != 0))
        {
            Queue((nuint)handle, _abi.ReadFilter, wantRead ? K.EV_ADD : K.EV_DELETE, key);
            state.Armed ^= ReadArmed;
        }

        if (wantWrite != ((state.Armed & WriteArmed) != 0))
        {
            Queue((nuint)handle, _abi.WriteFilter, wantWrite ? (ushort)(K.EV_ADD | K.EV_ONESHOT) : K.EV_DELETE, key);
            state.Armed ^= WriteArmed;
        }
    }

    /// <summary>The one-shot write filter fired and is gone from the kernel.</summary>
    private void WriteFired(nint key)
    {
        int slot = SlotIndex(key);
        if ((uint)slot < (uint)_slots.Length && _slots[slot].Live && _slots[slot].Key == key)
        {
            _slots[slot].Armed &= unchecked((byte)~WriteArmed);
        }
    }

    /// <summary>
    /// After dispatch: a channel that still wants write interest (it deferred another write from
    /// HandleWrite, or its connect is not finished) gets its one-shot filter back. The core sees
    /// no change of interest in that case and tells the backend nothing.
    /// </summary>
    private void RearmWrite(nint key)
    {
        int slot = SlotIndex(key);
        if ((uint)slot < (uint)_slots.Length && _slots[slot].Live && _slots[slot].Key == key
            && (_slots[slot].Interest & IoEvents.Write) != 0 && (_slots[slot].Armed & WriteArmed) == 0)
        {
            Queue((nuint)_slots[slot].Handle, _abi.WriteFilter, K.EV_ADD | K.EV_ONESHOT, key);
            _slots[slot].Armed |= WriteArmed;
        }
    }

    /// <summary>
    /// A handler's exception left the second pass at entry <paramref name="from"/> (that entry
    /// included). The first pass already took their one-shot write filters out of the armed
    /// set, and the core still counts write interest as armed: without the filter back, a
    /// channel with a deferred write or an unfinished connect would never hear of it again.
    /// Re-arm them (RearmWrite skips whatever is closed, armed or no longer wants writing);
    /// refused changes not yet reported go back to the late list for the next batch. Reads
    /// are level-triggered and come back by themselves.
    /// </summary>
    private void RestoreUndispatched(int from, int entries)
    {
        for (int i = from; i < entries; i++)
        {
            if (_ready[i].ChangeError != 0)
            {
                if (i == from)
                {
                    continue; // its report is what threw
                }

                if (_lateCount == _late.Length)
                {
                    Array.Resize(ref _late, _late.Length * 2);
                }

                _late[_lateCount++] = _ready[i];
            }
            else
            {
                RearmWrite(_ready[i].Key);
            }
        }
    }

    /// <summary>
    /// Decides what a refused change means. ENOENT (deleting a filter that is not there, for
    /// example a one-shot that fired) is ignored, as is EPIPE, which old macOS returns when
    /// adding a pipe whose other end closed while events still arrive (shared/PITFALLS.md 12,
    /// mio #582). Anything else is an error of the channel that owns the key.
    /// </summary>
    private bool ChangeFailed(nint key, short filter, int errno, nuint ident, out ReadyEntry failure)
    {
        failure = default;
        if (errno is 0 or Interop.Libc.ENOENT or Interop.Libc.EPIPE)
        {
            return false;
        }

        int slot = SlotIndex(key);
        if (key != (nint)WakeKey && (uint)slot < (uint)_slots.Length && _slots[slot].Live && _slots[slot].Key == key)
        {
            _slots[slot].Armed &= unchecked((byte)~(filter == _abi.WriteFilter ? WriteArmed : ReadArmed));
        }

        failure = new ReadyEntry { Key = key, ChangeError = errno, Filter = filter, Ident = ident };
        return true;
    }

    private void Merge(ref int entries, nint key, IoEvents ready, int connectError)
    {
        int slot = SlotIndex(key);
        if ((uint)slot < (uint)_mergeIndex.Length && _mergeIndex[slot] is > 0 and int at && _ready[at - 1].Key == key && _ready[at - 1].ChangeError == 0)
        {
            _ready[at - 1].Events |= ready;
            if (connectError != 0)
            {
                _ready[at - 1].ConnectError = connectError;
            }

            return;
        }

        AddEntry(ref entries, new ReadyEntry { Key = key, Events = ready, ConnectError = connectError });
        if ((uint)slot < (uint)_mergeIndex.Length)
        {
            _mergeIndex[slot] = entries;
        }
    }

    private void AddEntry(ref int entries, in ReadyEntry entry)
    {
        if (entries == _ready.Length)
        {
            Array.Resize(ref _ready, _ready.Length * 2);
        }

        _ready[entries++] = entry;
    }

    /// <summary>Errors of pending changes that an immediate registration learned; reported with the next batch.</summary>
    private int CollectLate()
    {
        int entries = 0;
        for (int i = 0; i < _lateCount; i++)
        {
            AddEntry(ref entries, _late[i]);
        }

        _lateCount = 0;
        return entries;
    }

    /// <summary>
    /// Applies the changelist now, in one kevent call with <c>EV_RECEIPT</c> on every entry and
    /// room for exactly one receipt per entry, so that no pending event is taken out of the
    /// queue (kqueue(2): EV_RECEIPT makes bulk changes without draining events). Returns the
    /// errno of the first refused entry with <paramref name="key"/>, or 0; refusals of other
    /// keys are kept for the next dispatch.
    /// </summary>
    private int ApplyChangesNow(nint key, out short failedFilter)
    {
        failedFilter = 0;
        int count = _changeCount;
        if (count == 0)
        {
            return 0;
        }

        if (_receiptCapacity < count)
        {
            int capacity = Math.Max(count, _receiptCapacity * 2);
            _receipts = (byte*)NativeMemory.Realloc(_receipts, (nuint)capacity * (nuint)_abi.Size);
            _receiptCapacity = capacity;
        }

        for (int i = 0; i < count; i++)
        {
            byte* change = _changes + (i * _abi.Size);
            _abi.Write(change, KeventAbi.ReadIdent(change), _abi.ReadFilterOf(change), (ushort)(_abi.ReadFlags(change) | K.EV_RECEIPT), _abi.ReadFflags(change), _abi.ReadData(change), _abi.ReadUdata(change));
        }

        Timespec zero = default;
        int receipts = CallKevent(_changes, count, _receipts, count, &zero, out int errno);
        _changeCount = 0;
        if (receipts < 0)
        {
            // EINTR: applied (shared/PITFALLS.md 12), but the receipts are lost with it.
            return errno == Interop.Libc.EINTR ? 0 : throw new NativeCallException($"kevent(kq {_kq}, {count} changes)", errno);
        }

        int result = 0;
        for (int i = 0; i < receipts; i++)
        {
            byte* receipt = _receipts + (i * _abi.Size);
            if ((_abi.ReadFlags(receipt) & K.EV_ERROR) == 0)
            {
                continue;
            }

            nint owner = _abi.ReadUdata(receipt);
            short filter = _abi.ReadFilterOf(receipt);
            if (!ChangeFailed(owner, filter, (int)_abi.ReadData(receipt), KeventAbi.ReadIdent(receipt), out ReadyEntry failure))
            {
                continue;
            }

            if (owner == key)
            {
                if (result == 0)
                {
                    result = failure.ChangeError;
                    failedFilter = filter;
                }
            }
            else
            {
                if (_lateCount == _late.Length)
                {
                    Array.Resize(ref _late, _late.Length * 2);
                }

                _late[_lateCount++] = failure;
            }
        }

        return result;
    }

    private void FlushIfLong()
    {
        // Changes made outside a loop (many channels set up before the first wait) must not
        // grow without bound.
        // WakeKey is never a channel's key (key 0 is: slot 0, generation 0), so every refusal
        // goes to the late list and reaches its channel's HandleError with the next batch.
        if (_changeCount >= ChangeFlushThreshold)
        {
            ApplyChangesNow((nint)WakeKey, out _);
        }
    }

    private void Queue(nuint ident, short filter, ushort flags, nint udata)
    {
        if (_changeCount == _changeCapacity)
        {
            int capacity = _changeCapacity * 2;
            _changes = (byte*)NativeMemory.Realloc(_changes, (nuint)capacity * (nuint)_abi.Size);
            _changeCapacity = capacity;
        }

        _abi.Write(_changes + (_changeCount * _abi.Size), ident, filter, flags, 0, 0, udata);
        _changeCount++;
    }

    private int CallKevent(byte* changes, int changeCount, byte* events, int eventCount, Timespec* timeout, out int errno)
    {
        System.Threading.Interlocked.Increment(ref _keventCalls);
        return _library.Kevent(_kq, changes, changeCount, events, eventCount, timeout, out errno);
    }

    private void EnsureEventRoom(int needed)
    {
        if (needed > _capacity)
        {
            _events = (byte*)NativeMemory.Realloc(_events, (nuint)needed * (nuint)_abi.Size);
            _capacity = needed;
        }
    }

    private void EnsureSlot(int slot)
    {
        if (slot >= _slots.Length)
        {
            int length = Math.Max(slot + 1, _slots.Length * 2);
            Array.Resize(ref _slots, length);
            Array.Resize(ref _mergeIndex, length);
        }
    }

    private string FilterName(short filter) =>
        filter == _abi.ReadFilter ? "EVFILT_READ" : filter == _abi.WriteFilter ? "EVFILT_WRITE" : filter == _abi.UserFilter ? "EVFILT_USER" : $"filter {filter}";

    private void FreeNative()
    {
        NativeMemory.Free(_events);
        _events = null;
        NativeMemory.Free(_changes);
        _changes = null;
        NativeMemory.Free(_receipts);
        _receipts = null;
    }

    private struct Slot
    {
        public nint Key;
        public nint Handle;
        public bool Live;
        public byte Armed;
        public IoEvents Interest;
    }

    private struct ReadyEntry
    {
        public nint Key;
        public IoEvents Events;
        public int ConnectError;
        public int ChangeError;
        public short Filter;
        public nuint Ident;
    }
}
