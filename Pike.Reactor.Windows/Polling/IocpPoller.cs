using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Pike.Reactor.Windows;

/// <summary>
/// Readiness on an I/O completion port, the way wepoll and mio do it: each socket has one
/// <c>IOCTL_AFD_POLL</c> in flight on a helper handle to the AFD driver
/// (<c>\Device\Afd\PikeReactor</c>) that is associated with the port; a completion says what
/// became ready, and the poll is submitted again (with the interest of that moment) before
/// the next wait, which keeps reads level-triggered. Interest changes cancel the poll in
/// flight (<c>NtCancelIoFileEx</c>) and re-arm it once the cancelled completion is back.
/// </summary>
/// <remarks>
/// Each poll's <c>IO_STATUS_BLOCK</c> and <c>AFD_POLL_INFO</c> live in native memory that
/// stays valid until the poll's completion packet has been taken from the port, also after
/// the channel closed; <see cref="Dispose(bool)"/> cancels and collects what is still in
/// flight and, should the kernel not answer within <see cref="DisposeDrainTimeout"/>, leaks
/// those blocks on purpose rather than free memory the kernel may still write.
/// </remarks>
[SupportedOSPlatform("windows")]
public sealed unsafe class IocpPoller : BasePoller
{
    /// <summary>The completion buffer's size when none is given.</summary>
    public const int DefaultEventCapacity = 256;

    private const int MaxEventCapacity = 65536;
    private const string AfdHelperName = @"\Device\Afd\PikeReactor";
    private static readonly TimeSpan DisposeDrainTimeout = TimeSpan.FromSeconds(5);

    private nint _port;
    private nint _afd;
    private OverlappedEntry* _entries;
    private int _capacity;
    private nint[] _rearm = new nint[64];
    private nint[] _readyKeys;      // DispatchEvents' second pass, one per entry of _entries
    private IoEvents[] _readyEvents;
    private int _rearmCount;
    private int _inFlight;
    private int _leaked;
    private long _pollCompletions;

    /// <summary>Creates the completion port and the AFD helper handle.</summary>
    /// <param name="eventCapacity">Completions one wait can take before the buffer grows (it doubles when a wait fills it).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="eventCapacity"/> is not positive.</exception>
    /// <exception cref="NativeCallException">The system refused the port or the AFD helper.</exception>
    public IocpPoller(int eventCapacity = DefaultEventCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(eventCapacity);
        _port = Interop.Kernel32.CreateIoCompletionPort(Interop.Kernel32.InvalidHandleValue, 0, 0, 1);
        if (_port == 0)
        {
            throw new NativeCallException("CreateIoCompletionPort(INVALID_HANDLE_VALUE)", Marshal.GetLastPInvokeError());
        }

        try
        {
            _afd = OpenAfdHelper(_port);
        }
        catch
        {
            Interop.Kernel32.CloseHandle(_port);
            _port = 0;
            throw;
        }

        _capacity = Math.Min(eventCapacity, MaxEventCapacity);
        _entries = (OverlappedEntry*)NativeMemory.Alloc((nuint)_capacity, (nuint)sizeof(OverlappedEntry));
        _readyKeys = new nint[_capacity];
        _readyEvents = new IoEvents[_capacity];
    }

    /// <inheritdoc/>
    public override string Name => "iocp";

    /// <summary>The completion port.</summary>
    public nint Handle => _port;

    /// <summary>AFD polls submitted and not yet completed (the cancelled ones included).</summary>
    internal int InFlight => _inFlight;

    /// <summary>Poll blocks <see cref="Dispose(bool)"/> left allocated because the kernel had not returned them.</summary>
    internal int Leaked => _leaked;

    /// <summary>AFD poll completions taken from the port (cancelled ones included); the tests watch it for spurious wake-ups.</summary>
    internal long PollCompletions => _pollCompletions;

    /// <inheritdoc/>
    protected override int EventCapacity => _capacity;

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        SubmitRearms();
        uint removed = 0;
        uint wait = timeoutMilliseconds < 0 ? Interop.Kernel32.INFINITE : (uint)timeoutMilliseconds;
        if (!Interop.Kernel32.GetQueuedCompletionStatusEx(_port, _entries, (uint)_capacity, &removed, wait, false))
        {
            int error = Marshal.GetLastPInvokeError();
            return error == Interop.Kernel32.WAIT_TIMEOUT ? 0 : throw new NativeCallException($"GetQueuedCompletionStatusEx(port 0x{_port:X})", error);
        }

        return (int)removed;
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        // GetQueuedCompletionStatusEx has taken every entry from the port already. Bookkeep
        // them all before any handler runs: a handler's exception leaves this method (the
        // default HandleError rethrows), and an entry not yet bookkept would stay lost — an
        // unacknowledged wake-up silences every later Wake, a socket left Pending with
        // nothing in flight is never polled again.
        int ready = 0;
        for (int i = 0; i < count; i++)
        {
            PollOperation* op = (PollOperation*)_entries[i].Overlapped;
            if (op == null)
            {
                AcknowledgeWake();
                continue;
            }

            _inFlight--;
            _pollCompletions++;
            op->State = PollState.Idle;
            if (op->Orphaned)
            {
                NativeMemory.Free(op);
                continue;
            }

            IoEvents events = ReadyEvents(op);
            if (!op->Dropped)
            {
                QueueRearm(op);
            }

            if (events != IoEvents.None)
            {
                // Keys, not pointers: a handler may close another channel and free its block.
                _readyKeys[ready] = op->Key;
                _readyEvents[ready] = events;
                ready++;
            }
        }

        for (int i = 0; i < ready; i++)
        {
            ProcessEvent(_readyKeys[i], _readyEvents[i]);
        }
    }

    /// <inheritdoc/>
    protected override void GrowEventCapacity()
    {
        if (_capacity >= MaxEventCapacity)
        {
            return;
        }

        // Pointer and capacity change together, after Realloc succeeded: the kernel must never
        // be told a larger buffer than there is.
        int capacity = _capacity * 2;
        var entries = (OverlappedEntry*)NativeMemory.Realloc(_entries, (nuint)capacity * (nuint)sizeof(OverlappedEntry));
        _entries = entries;
        Array.Resize(ref _readyKeys, capacity);
        Array.Resize(ref _readyEvents, capacity);
        _capacity = capacity;
    }

    /// <inheritdoc/>
    /// <remarks>The registration's state is its <see cref="PollOperation"/> block.</remarks>
    protected override void ApplyInterest(in InterestChange change)
    {
        if (change.IsAdd)
        {
            nint baseHandle = SocketBaseHandle.Get(change.Handle);
            var created = (PollOperation*)NativeMemory.AllocZeroed((nuint)sizeof(PollOperation));
            created->Key = change.Key;
            created->BaseHandle = baseHandle;
            created->Wanted = AfdEventsFor(change.Interest);
            change.State = (nint)created;
            QueueRearm(created);
            return;
        }

        var op = (PollOperation*)change.State;
        if (change.IsRemove)
        {
            // The channel stays registered with the core (paused, say): its state must no longer
            // name the block, which a queued re-arm would otherwise find after it is freed.
            change.State = 0;
            Release(op);
            return;
        }

        op->Wanted = AfdEventsFor(change.Interest);
        if (op->State == PollState.Pending && (op->Wanted & ~op->Submitted) != 0)
        {
            // A poll in flight cannot be changed, only cancelled and submitted again once its
            // completion is back (docs/pitfalls.md 16; wepoll sock_update). A poll that asks
            // for more than wanted stays: the surplus is filtered when it completes.
            Cancel(op);
        }
        else if (op->State == PollState.Idle && !op->Dropped)
        {
            QueueRearm(op);
        }
    }

    /// <inheritdoc/>
    protected override void SignalWake()
    {
        if (!Interop.Kernel32.PostQueuedCompletionStatus(_port, 0, 0, 0))
        {
            throw new NativeCallException($"PostQueuedCompletionStatus(port 0x{_port:X})", Marshal.GetLastPInvokeError());
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        // The core closed every channel first, so each block is freed or orphaned in flight.

        DrainInFlight();
        if (_afd != 0)
        {
            Interop.Kernel32.CloseHandle(_afd);
            _afd = 0;
        }

        if (_port != 0)
        {
            Interop.Kernel32.CloseHandle(_port);
            _port = 0;
        }

        if (_entries != null)
        {
            NativeMemory.Free(_entries);
            _entries = null;
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// AFD events for an interest. Never <c>AFD_POLL_CONNECT</c>: it stays set on a connected
    /// socket and made it permanently writable (docs/pitfalls.md 14, wepoll 8b7b340); a
    /// finished connect shows as SEND, a failed one as CONNECT_FAIL. LOCAL_CLOSE always, so a
    /// socket closed behind the poller's back is dropped (wepoll test-auto-drop-on-close).
    /// </summary>
    internal static uint AfdEventsFor(IoEvents interest)
    {
        uint events = Interop.Ntdll.AFD_POLL_LOCAL_CLOSE;
        if ((interest & IoEvents.Read) != 0)
        {
            events |= Interop.Ntdll.AFD_POLL_RECEIVE | Interop.Ntdll.AFD_POLL_ACCEPT | Interop.Ntdll.AFD_POLL_DISCONNECT
                | Interop.Ntdll.AFD_POLL_ABORT | Interop.Ntdll.AFD_POLL_CONNECT_FAIL;
        }

        if ((interest & IoEvents.Write) != 0)
        {
            events |= Interop.Ntdll.AFD_POLL_SEND | Interop.Ntdll.AFD_POLL_ABORT | Interop.Ntdll.AFD_POLL_CONNECT_FAIL;
        }

        return events;
    }

    /// <summary>
    /// The contract's readiness for AFD events. An abort closed both directions and a failed
    /// connect must reach the core's SO_ERROR check (docs/pitfalls.md 14, mio #1303/#1304):
    /// both count as readable and writable.
    /// </summary>
    internal static IoEvents ReadinessFor(uint afdEvents)
    {
        IoEvents ready = IoEvents.None;
        if ((afdEvents & (Interop.Ntdll.AFD_POLL_RECEIVE | Interop.Ntdll.AFD_POLL_ACCEPT | Interop.Ntdll.AFD_POLL_DISCONNECT)) != 0)
        {
            ready |= IoEvents.Read;
        }

        if ((afdEvents & Interop.Ntdll.AFD_POLL_SEND) != 0)
        {
            ready |= IoEvents.Write;
        }

        if ((afdEvents & (Interop.Ntdll.AFD_POLL_ABORT | Interop.Ntdll.AFD_POLL_CONNECT_FAIL)) != 0)
        {
            ready |= IoEvents.Read | IoEvents.Write;
        }

        return ready;
    }

    private static IoEvents ReadyEvents(PollOperation* op)
    {
        int status = op->Iosb.Status;
        if (status == Interop.Ntdll.STATUS_CANCELLED)
        {
            return IoEvents.None;
        }

        if (Interop.Ntdll.IsError(status))
        {
            // The poll itself failed (the socket is gone): tell the channel once, whose read or
            // connect check raises the error, and never submit for it again.
            op->Dropped = true;
            return IoEvents.Read | IoEvents.Write;
        }

        if (op->Info.NumberOfHandles < 1)
        {
            return IoEvents.None;
        }

        uint events = op->Info.Events;
        if ((events & Interop.Ntdll.AFD_POLL_LOCAL_CLOSE) != 0)
        {
            // Closed behind the poller's back (docs/pitfalls.md 16): drop the registration;
            // the channel's next Recv reports the disposed socket and closes it.
            op->Dropped = true;
            return IoEvents.Read | IoEvents.Write;
        }

        return ReadinessFor(events & op->Wanted);
    }

    private static nint OpenAfdHelper(nint port)
    {
        nint handle = 0;
        IoStatusBlock iosb = default;
        int status;
        fixed (char* name = AfdHelperName)
        {
            // Opened without extended attributes, the handle is no socket, just a channel to
            // the AFD driver for IOCTL_AFD_POLL (wepoll afd.c).
            var unicodeName = new UnicodeString
            {
                Length = (ushort)(AfdHelperName.Length * sizeof(char)),
                MaximumLength = (ushort)(AfdHelperName.Length * sizeof(char)),
                Buffer = name,
            };
            var attributes = new ObjectAttributes { Length = (uint)sizeof(ObjectAttributes), ObjectName = &unicodeName };
            status = Interop.Ntdll.NtCreateFile(
                &handle,
                Interop.Ntdll.SYNCHRONIZE,
                &attributes,
                &iosb,
                null,
                0,
                Interop.Ntdll.FILE_SHARE_READ | Interop.Ntdll.FILE_SHARE_WRITE,
                Interop.Ntdll.FILE_OPEN,
                0,
                null,
                0);
        }

        if (status != Interop.Ntdll.STATUS_SUCCESS)
        {
            throw new NativeCallException($"NtCreateFile({AfdHelperName}) NTSTATUS 0x{status:X8}", (int)Interop.Ntdll.RtlNtStatusToDosError(status));
        }

        try
        {
            if (Interop.Kernel32.CreateIoCompletionPort(handle, port, 0, 0) == 0)
            {
                throw new NativeCallException("CreateIoCompletionPort(AFD helper)", Marshal.GetLastPInvokeError());
            }

            // Nobody waits on the handle itself; skip signaling it on every completion (wepoll afd.c).
            if (!Interop.Kernel32.SetFileCompletionNotificationModes(handle, Interop.Kernel32.FILE_SKIP_SET_EVENT_ON_HANDLE))
            {
                throw new NativeCallException("SetFileCompletionNotificationModes(AFD helper, FILE_SKIP_SET_EVENT_ON_HANDLE)", Marshal.GetLastPInvokeError());
            }
        }
        catch
        {
            Interop.Kernel32.CloseHandle(handle);
            throw;
        }

        return handle;
    }

    private PollOperation* Find(nint key) => TryGetBackendState(key, out nint state) && state != 0 ? (PollOperation*)state : null;

    /// <summary>Ends a registration: frees its block now, or, with a poll in flight, when that poll's (cancelled) completion arrives.</summary>
    private void Release(PollOperation* op)
    {
        if (op->State == PollState.Idle)
        {
            // Nothing in flight: a queued re-arm finds no operation under this key and is skipped.
            NativeMemory.Free(op);
            return;
        }

        // The kernel still owns the block: free it when its (cancelled) completion arrives.
        op->Orphaned = true;
        if (op->State == PollState.Pending)
        {
            Cancel(op);
        }
    }

    private void QueueRearm(PollOperation* op)
    {
        if (op->Queued)
        {
            return;
        }

        if (_rearmCount == _rearm.Length)
        {
            Array.Resize(ref _rearm, _rearm.Length * 2);
        }

        op->Queued = true;
        _rearm[_rearmCount++] = op->Key;
    }

    private void SubmitRearms()
    {
        // Entries are keys, not pointers: a channel closed since it was queued has no
        // operation under its key any more, and its block may be gone.
        for (int i = 0; i < _rearmCount; i++)
        {
            PollOperation* op = Find(_rearm[i]);
            if (op == null)
            {
                continue;
            }

            op->Queued = false;
            if (op->State == PollState.Idle && !op->Dropped && op->Wanted != 0)
            {
                Submit(op);
            }
        }

        _rearmCount = 0;
    }

    private void Submit(PollOperation* op)
    {
        op->Info.Timeout = long.MaxValue;
        op->Info.NumberOfHandles = 1;
        op->Info.Exclusive = 0;
        op->Info.Handle = op->BaseHandle;
        op->Info.Events = op->Wanted;
        op->Info.Status = 0;
        op->Iosb.StatusOrPointer = Interop.Ntdll.STATUS_PENDING;
        op->Iosb.Information = 0;
        op->Submitted = op->Wanted;
        op->State = PollState.Pending;
        _inFlight++;
        uint size = (uint)sizeof(AfdPollInfo);
        int status = Interop.Ntdll.NtDeviceIoControlFile(_afd, 0, 0, op, &op->Iosb, Interop.Ntdll.IOCTL_AFD_POLL, &op->Info, size, &op->Info, size);
        if (!Interop.Ntdll.IsError(status))
        {
            return; // pending, success or a warning: the completion comes through the port
        }

        // Refused at once (the socket handle is no longer valid, wepoll sock_update): no packet
        // will come, so post one carrying the failure and let the channel hear of it.
        op->Iosb.StatusOrPointer = status;
        if (!Interop.Kernel32.PostQueuedCompletionStatus(_port, 0, 0, (nint)op))
        {
            op->State = PollState.Idle;
            op->Dropped = true;
            _inFlight--;
            throw new NativeCallException($"PostQueuedCompletionStatus(port 0x{_port:X})", Marshal.GetLastPInvokeError());
        }
    }

    private void Cancel(PollOperation* op)
    {
        IoStatusBlock cancelStatus = default;
        int status = Interop.Ntdll.NtCancelIoFileEx(_afd, &op->Iosb, &cancelStatus);

        // STATUS_NOT_FOUND: it completed already and its packet waits in the port.
        if (status != Interop.Ntdll.STATUS_SUCCESS && status != Interop.Ntdll.STATUS_NOT_FOUND)
        {
            throw new NativeCallException($"NtCancelIoFileEx(AFD poll) NTSTATUS 0x{status:X8}", (int)Interop.Ntdll.RtlNtStatusToDosError(status));
        }

        op->State = PollState.Cancelling;
    }

    private void DrainInFlight()
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(DisposeDrainTimeout.TotalSeconds * Stopwatch.Frequency);
        while (_inFlight > 0 && _port != 0 && Stopwatch.GetTimestamp() < deadline)
        {
            uint removed = 0;
            if (!Interop.Kernel32.GetQueuedCompletionStatusEx(_port, _entries, (uint)_capacity, &removed, 100, false))
            {
                continue;
            }

            for (int i = 0; i < (int)removed; i++)
            {
                var op = (PollOperation*)_entries[i].Overlapped;
                if (op == null)
                {
                    continue;
                }

                _inFlight--;
                op->State = PollState.Idle;
                if (op->Orphaned)
                {
                    NativeMemory.Free(op);
                }
            }
        }

        // What the kernel has not handed back stays allocated: leaking a few dozen bytes per
        // socket is safe, freeing memory the driver may still write is not.
        _leaked = _inFlight;
    }
}
