using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using K = Pike.Reactor.BSD.Interop.Kqueue;

namespace Pike.Reactor.BSD;

/// <summary>
/// kqueue/kevent for macOS, FreeBSD, OpenBSD and NetBSD, and for Linux through a library with
/// libkqueue's API. Reads and writes are level-triggered filters (<c>EVFILT_READ</c>, and
/// <c>EVFILT_WRITE</c> only while a channel connects or has a deferred write, deleted through
/// the changelist when the core's one-shot write interest ends, as libuv's kqueue.c does); the
/// wake-up is an <c>EVFILT_USER</c> event. Each registration's <c>udata</c> is its key, never
/// the descriptor, so that an event of a channel closed earlier in the batch never reaches a
/// channel that reused the number (docs/pitfalls.md 1). The poller keeps no per-channel state:
/// the core tells it the interest before and after every change.
/// </summary>
/// <remarks>
/// Interest changes are appended to a changelist. On a BSD kernel the next <c>kevent</c> wait
/// carries them, so deferring a write or pausing a read costs no system call of its own: the
/// kernel returns at once with an <c>EV_ERROR</c> entry for a refused change. libkqueue (a
/// library named by path) does not: it waits after taking the changes and, when the wait
/// times out, returns 0 and drops their errors (docs/pitfalls.md 19), so there the changes are
/// applied before the wait, with <c>EV_RECEIPT</c>, in a call whose event list they fill
/// exactly (libkqueue then returns without waiting). A new registration
/// (<see cref="BasePoller.AddChannel"/>) is applied at once in the same way, since the core
/// expects a refused registration to throw there and then (docs/pitfalls.md 6). Changes go to
/// the kernel in chunks no longer than the receipt buffer (docs/pitfalls.md 20). Errors of
/// changes that belong to other channels reach those channels' HandleError with the next batch.
/// </remarks>
public sealed unsafe class KqueuePoller : BasePoller
{
    /// <summary>The event buffer's size (in kevents, that is filters, not channels) when none is given.</summary>
    public const int DefaultEventCapacity = 256;

    private const int MaxEventCapacity = 65536;

    /// <summary>Changes per kevent call that applies them with receipts, and the receipt buffer's size.</summary>
    private const int ReceiptChunk = 256;

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
        ChangesRideWithWait = _library.IsKernel;
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
        _receipts = (byte*)NativeMemory.Alloc(ReceiptChunk, (nuint)_abi.Size);
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
            CloseQueue();
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

    /// <summary>
    /// True when pending changes ride with the next wait (a BSD kernel, which returns at once
    /// with the errors of refused changes); false when they are applied with receipts before
    /// it (libkqueue, which drops them when the wait times out). Tests set it to run either
    /// path against the shim's two modes.
    /// </summary>
    internal bool ChangesRideWithWait { get; set; }

    /// <summary>How many kevent calls this poller has made (waits, applied changes, wake-ups).</summary>
    internal long KeventCalls => System.Threading.Interlocked.Read(ref _keventCalls);

    /// <summary>Kevents the waits returned so far, and the channel dispatches they became (read and write of one channel merge).</summary>
    internal (long Kevents, long Dispatches) DispatchCounts => (_dispatchedKevents, _dispatchedEntries);

    /// <summary>Changes waiting for the next kevent call.</summary>
    internal int PendingChanges => _changeCount;

    internal KeventAbi Abi => _abi;

    /// <inheritdoc/>
    protected override int EventCapacity => _capacity;

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        if (_changeCount > 0 && (!ChangesRideWithWait || _changeCount > _capacity))
        {
            // docs/pitfalls.md 19, 20: libkqueue loses the errors of changes taken with a wait
            // that times out, and no kevent may carry more changes than its event list can
            // answer for; apply them now, in chunks that receipts fill exactly.
            ApplyChangesNow((nint)WakeKey, out _);
        }

        Timespec timeout = new() { Seconds = timeoutMilliseconds / 1000, Nanoseconds = timeoutMilliseconds % 1000 * 1_000_000 };
        int count = _changeCount;
        int ready = CallKevent(_changes, count, _events, _capacity, timeoutMilliseconds < 0 ? null : &timeout, out int errno);
        if (ready >= 0 || errno == Interop.Libc.EINTR)
        {
            // docs/pitfalls.md 12: EINTR from kevent means the changes were applied (kqueue(2));
            // the core waits again with what remains, without them.
            _changeCount = 0;
            return ready >= 0 ? ready : -1;
        }

        // Anything else: the changes stay queued for the next call (an add again is harmless, a
        // delete again at worst ENOENT), so that no removal of write interest is lost.
        throw new NativeCallException($"kevent(kq {_kq}, {count} changes)", errno);
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        // First pass: the batch becomes one entry per channel. Read and write readiness of one
        // descriptor arrive as two kevents, and a handler must see them together, or a connect
        // failure is seen as a read before the connect check (docs/pitfalls.md 13, CPython
        // gh-110038). Nothing here calls a handler, so the batch is still intact.
        int entries = CollectLate();
        int firstReady = entries;
        for (int i = 0; i < count; i++)
        {
            byte* ev = _events + (i * _abi.Size);
            nint key = _abi.ReadUdata(ev);
            short filter = _abi.ReadFilterOf(ev);
            ushort flags = _abi.ReadFlags(ev);
            if ((flags & K.EV_ERROR) != 0)
            {
                // EV_ERROR marks only a changelist entry the kernel refused, never readiness
                // (docs/pitfalls.md 10, mio is_error).
                if (IsChannelError(key, (int)_abi.ReadData(ev)))
                {
                    AddEntry(ref entries, new ReadyEntry { Key = key, ChangeError = (int)_abi.ReadData(ev), Filter = filter, Ident = KeventAbi.ReadIdent(ev) });
                }

                continue;
            }

            if (key == (nint)WakeKey)
            {
                // EV_CLEAR reset the trigger as it was reported: nothing to drain.
                AcknowledgeWake();
                continue;
            }

            IoEvents ready;
            if (filter == _abi.ReadFilter)
            {
                // Read-side EV_EOF: the read that follows sees the end of stream or the error.
                ready = IoEvents.Read;
            }
            else if (filter == _abi.WriteFilter)
            {
                // Write-side EV_EOF with no error is not a hang-up (docs/pitfalls.md 11, mio
                // #1087): it stays plain write readiness, and the write that follows finds out.
                ready = IoEvents.Write;
            }
            else
            {
                continue;
            }

            // A failed connect is EV_EOF with the errno in fflags: a BSD kernel puts it on
            // EVFILT_WRITE (docs/pitfalls.md 10), libkqueue on EVFILT_READ, clearing SO_ERROR as
            // it reads it (docs/pitfalls.md 19); take it from whichever filter carries it.
            uint fflags = _abi.ReadFflags(ev);
            int connectError = (flags & K.EV_EOF) != 0 ? (int)fflags : 0;
            AddEntry(ref entries, new ReadyEntry { Key = key, Events = ready, ConnectError = connectError });
        }

        entries = MergeByKey(firstReady, entries);
        _dispatchedKevents += count;
        _dispatchedEntries += entries - firstReady;

        // Second pass: dispatch. Handlers may close, open and register channels; a closed
        // channel's key no longer finds it, and a reused slot has a new key. Filters are
        // level-triggered, so what a handler's exception leaves undispatched is reported again;
        // refused changes not yet reported go back to the late list for the next batch.
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

                SocketError connectError = entry.ConnectError != 0 ? ToSocketError(entry.ConnectError) : SocketError.Success;
                if (!ProcessEvent(entry.Key, entry.Events, connectError) && TryGetStaleHandle(entry.Key, out nint stale))
                {
                    // docs/pitfalls.md 2: a registration nobody holds would be reported
                    // forever; drop it (ENOENT, if it is already gone, is ignored).
                    Queue((nuint)stale, _abi.ReadFilter, K.EV_DELETE, entry.Key);
                    Queue((nuint)stale, _abi.WriteFilter, K.EV_DELETE, entry.Key);
                }
            }
        }
        finally
        {
            for (int i = next + 1; i < entries; i++)
            {
                if (_ready[i].ChangeError != 0)
                {
                    AddLate(_ready[i]);
                }
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
    protected override void ApplyInterest(in InterestChange change)
    {
        nuint ident = (nuint)change.Handle;
        bool readBefore = (change.Previous & IoEvents.Read) != 0;
        bool readAfter = (change.Interest & IoEvents.Read) != 0;
        bool writeBefore = (change.Previous & IoEvents.Write) != 0;
        bool writeAfter = (change.Interest & IoEvents.Write) != 0;
        if (readBefore != readAfter)
        {
            Queue(ident, _abi.ReadFilter, readAfter ? K.EV_ADD : K.EV_DELETE, change.Key);
        }

        if (writeBefore != writeAfter)
        {
            Queue(ident, _abi.WriteFilter, writeAfter ? K.EV_ADD : K.EV_DELETE, change.Key);
        }

        if (change.IsAdd)
        {
            // docs/pitfalls.md 6: a refused registration must throw here, so that the core rolls
            // its bookkeeping back; it cannot wait for the next wait's changelist.
            int failed = ApplyChangesNow(change.Key, out short failedFilter);
            if (failed != 0)
            {
                Queue(ident, _abi.ReadFilter, K.EV_DELETE, change.Key);
                Queue(ident, _abi.WriteFilter, K.EV_DELETE, change.Key);
                throw new NativeCallException($"kevent(EV_ADD {FilterName(failedFilter)}, fd {change.Handle})", failed);
            }
        }
        else if (_changeCount >= ReceiptChunk * 4)
        {
            // Changes made outside a loop (many channels set up before the first wait) must not
            // grow without bound. Refusals reach their channels' HandleError with the next batch.
            ApplyChangesNow((nint)WakeKey, out _);
        }

        // A removal stays queued, not applied: the descriptor is usually closed next, which
        // drops its knotes anyway, and the delete then fails with EBADF or ENOENT, both ignored.
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
        CloseQueue();
        FreeNative();
        base.Dispose(disposing);
    }

    /// <summary>
    /// The SocketError of a connect errno from fflags. The errno is this OS's (libkqueue runs on
    /// the host it reports for), and SocketException's parameterless constructor maps the last
    /// errno the way the runtime's own socket calls do.
    /// </summary>
    private static SocketError ToSocketError(int errno)
    {
        Marshal.SetLastPInvokeError(errno);
        return new SocketException().SocketErrorCode;
    }

    /// <summary>
    /// Decides what a refused change means. ENOENT (deleting a filter that is not there) and
    /// EBADF (deleting the filters of a descriptor already closed) are ignored, as is EPIPE,
    /// which old macOS returns when adding a pipe whose other end closed while events still
    /// arrive (docs/pitfalls.md 12, mio #582). Anything else is an error of the channel that
    /// owns the key.
    /// </summary>
    private static bool IsChannelError(nint key, int errno) =>
        key != (nint)WakeKey ? errno is not (0 or Interop.Libc.ENOENT or Interop.Libc.EPIPE or Interop.Libc.EBADF) : errno != 0;

    /// <summary>Sorts the batch's readiness entries by key and merges each channel's into one (errors stay apart).</summary>
    private int MergeByKey(int from, int entries)
    {
        Span<ReadyEntry> batch = _ready.AsSpan(from, entries - from);
        if (batch.Length < 2)
        {
            return entries;
        }

        batch.Sort(static (a, b) => ((long)a.Key).CompareTo((long)b.Key));
        int kept = 0;
        for (int i = 0; i < batch.Length; i++)
        {
            if (kept > 0 && batch[kept - 1].Key == batch[i].Key && batch[i].ChangeError == 0 && batch[kept - 1].ChangeError == 0)
            {
                batch[kept - 1].Events |= batch[i].Events;
                if (batch[i].ConnectError != 0)
                {
                    batch[kept - 1].ConnectError = batch[i].ConnectError;
                }

                continue;
            }

            batch[kept++] = batch[i];
        }

        return from + kept;
    }

    private void AddEntry(ref int entries, in ReadyEntry entry)
    {
        if (entries == _ready.Length)
        {
            Array.Resize(ref _ready, _ready.Length * 2);
        }

        _ready[entries++] = entry;
    }

    private void AddLate(in ReadyEntry entry)
    {
        if (_lateCount == _late.Length)
        {
            Array.Resize(ref _late, _late.Length * 2);
        }

        _late[_lateCount++] = entry;
    }

    /// <summary>Errors of changes applied outside a wait that belong to other channels; reported with the next batch.</summary>
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
    /// Applies the changelist now, with <c>EV_RECEIPT</c> on every entry, in chunks of at most
    /// <see cref="ReceiptChunk"/> changes each with room for exactly one receipt per change: no
    /// pending event is taken out of the queue (kqueue(2): EV_RECEIPT makes bulk changes
    /// without draining events), a BSD kernel returns at once, and libkqueue, its event list
    /// filled by the receipts, returns without waiting (docs/pitfalls.md 19, 20). Returns the
    /// errno of the first refused entry with <paramref name="key"/>, or 0; refusals of other
    /// keys are kept for the next dispatch.
    /// </summary>
    private int ApplyChangesNow(nint key, out short failedFilter)
    {
        failedFilter = 0;
        int result = 0;
        int total = _changeCount;
        _changeCount = 0;
        for (int offset = 0; offset < total; offset += ReceiptChunk)
        {
            int count = Math.Min(ReceiptChunk, total - offset);
            byte* chunk = _changes + (offset * _abi.Size);
            for (int i = 0; i < count; i++)
            {
                byte* change = chunk + (i * _abi.Size);
                _abi.Write(change, KeventAbi.ReadIdent(change), _abi.ReadFilterOf(change), (ushort)(_abi.ReadFlags(change) | K.EV_RECEIPT), _abi.ReadFflags(change), _abi.ReadData(change), _abi.ReadUdata(change));
            }

            Timespec zero = default;
            int receipts = CallKevent(chunk, count, _receipts, count, &zero, out int errno);
            if (receipts < 0)
            {
                // EINTR: applied (docs/pitfalls.md 12), but the receipts are lost with it.
                if (errno == Interop.Libc.EINTR)
                {
                    continue;
                }

                // This chunk and those after it stay queued for the next call.
                int left = total - offset;
                Buffer.MemoryCopy(chunk, _changes, (long)_changeCapacity * _abi.Size, (long)left * _abi.Size);
                _changeCount = left;
                throw new NativeCallException($"kevent(kq {_kq}, {count} changes)", errno);
            }

            for (int i = 0; i < receipts; i++)
            {
                byte* receipt = _receipts + (i * _abi.Size);
                if ((_abi.ReadFlags(receipt) & K.EV_ERROR) == 0)
                {
                    continue;
                }

                nint owner = _abi.ReadUdata(receipt);
                int error = (int)_abi.ReadData(receipt);
                if (!IsChannelError(owner, error))
                {
                    continue;
                }

                short filter = _abi.ReadFilterOf(receipt);
                if (owner == key)
                {
                    if (result == 0)
                    {
                        result = error;
                        failedFilter = filter;
                    }
                }
                else
                {
                    AddLate(new ReadyEntry { Key = owner, ChangeError = error, Filter = filter, Ident = KeventAbi.ReadIdent(receipt) });
                }
            }
        }

        return result;
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

    /// <summary>
    /// Closes the queue. libkqueue releases a closed queue's descriptors later, on its monitor
    /// thread; where the library exports <c>libkqueue_drain_pending_close</c>, it is called so
    /// that they are back when Dispose returns (docs/pitfalls.md 19).
    /// </summary>
    private void CloseQueue()
    {
        if (_kq >= 0)
        {
            Interop.Libc.close(_kq);
            _kq = -1;
            _library.DrainPendingClose();
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
