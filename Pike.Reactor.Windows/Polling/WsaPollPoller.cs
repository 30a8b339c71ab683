using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Pike.Reactor.Windows;

/// <summary>
/// Windows' <c>WSAPoll</c> over a dense native array of <c>WSAPOLLFD</c>, woken through a
/// loopback socket pair. Each wait costs time in proportion to the registered sockets; it is
/// the fallback for when the AFD driver cannot be reached (<see cref="IocpPoller"/>).
/// </summary>
/// <remarks>
/// WSAPoll does not report a failed TCP connect before Windows 10 2004, and Windows Server
/// 2019 was seen silent too (docs/pitfalls.md 17; curl and poco #3248): while a channel
/// connects, each wait is bounded by <see cref="ConnectCheckInterval"/> and the connecting
/// sockets' <c>SO_ERROR</c> is read after it, so a refused connect reaches
/// <c>HandleError</c> instead of hanging.
/// </remarks>
[SupportedOSPlatform("windows")]
public sealed unsafe class WsaPollPoller : BasePoller
{
    /// <summary>The longest a wait lasts while some channel is connecting.</summary>
    public static readonly TimeSpan ConnectCheckInterval = TimeSpan.FromMilliseconds(50);

    private const int WakeIndex = 0;

    private readonly LoopbackWaker _waker;
    private WsaPollFd* _fds;
    private int _capacity;
    private int _count;
    private nint[] _keys;
    private bool[] _connecting;
    private int[] _indexBySlot = new int[64];
    private int _connectingCount;
    private nint[] _readyKeys;
    private IoEvents[] _readyEvents;

    /// <summary>Creates the poller and its wake-up socket pair.</summary>
    public WsaPollPoller()
    {
        _waker = new LoopbackWaker();
        _capacity = 64;
        _fds = (WsaPollFd*)NativeMemory.AllocZeroed((nuint)_capacity, (nuint)sizeof(WsaPollFd));
        _keys = new nint[_capacity];
        _connecting = new bool[_capacity];
        _readyKeys = new nint[_capacity];
        _readyEvents = new IoEvents[_capacity];
        Array.Fill(_indexBySlot, -1);
        _fds[WakeIndex].Fd = _waker.Reader.SafeHandle.DangerousGetHandle();
        _fds[WakeIndex].Events = Interop.Ws2_32.POLLRDNORM;
        _keys[WakeIndex] = (nint)WakeKey;
        _count = 1;
    }

    /// <inheritdoc/>
    public override string Name => "wsapoll";

    /// <inheritdoc/>
    public override void Poll(TimeSpan timeout) => PollCore(timeout);

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        int wait = timeoutMilliseconds;
        if (_connectingCount > 0)
        {
            int bound = (int)ConnectCheckInterval.TotalMilliseconds;
            wait = wait < 0 ? bound : Math.Min(wait, bound);
        }

        if (Interop.Ws2_32.WSAPoll(_fds, (uint)_count, wait) < 0)
        {
            throw new NativeCallException($"WSAPoll({_count} sockets)", Marshal.GetLastPInvokeError());
        }

        // Copied out before dispatch: handlers add and remove sockets, which reorders _fds.
        int ready = 0;
        for (int i = 0; i < _count; i++)
        {
            short revents = _fds[i].REvents;
            if (revents == 0 && _connecting[i] && HasPendingError(_fds[i].Fd))
            {
                revents = Interop.Ws2_32.POLLERR; // the failed connect WSAPoll kept quiet about
            }

            if (revents != 0)
            {
                _readyKeys[ready] = _keys[i];
                _readyEvents[ready] = ReadinessFor(revents);
                ready++;
            }
        }

        return ready;
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        // Nothing is bookkept per entry here that a handler's exception could skip: the wait
        // copied the ready set out and WSAPoll is level-triggered (what is skipped is reported
        // again), and the wake-up socket is entry 0 of _fds, so it is drained and acknowledged
        // before any handler runs.
        for (int i = 0; i < count; i++)
        {
            nint key = _readyKeys[i];
            if (key == WakeKey)
            {
                DrainWake();
                continue;
            }

            ProcessEvent(key, _readyEvents[i]);
        }
    }

    /// <inheritdoc/>
    protected override void RegisterHandle(nint handle, nint key, IoEvents interest)
    {
        int slot = SlotIndex(key);
        if (slot >= _indexBySlot.Length)
        {
            int old = _indexBySlot.Length;
            Array.Resize(ref _indexBySlot, Math.Max(slot + 1, old * 2));
            Array.Fill(_indexBySlot, -1, old, _indexBySlot.Length - old);
        }

        if (_count == _capacity)
        {
            Grow();
        }

        int index = _count++;
        _fds[index].Fd = handle;
        _fds[index].Events = MaskFor(interest);
        _fds[index].REvents = 0;
        _keys[index] = key;
        _indexBySlot[slot] = index;
        SetConnecting(index, key, interest);
    }

    /// <inheritdoc/>
    protected override void ModifyHandle(nint handle, nint key, IoEvents previous, IoEvents interest)
    {
        int index = IndexOf(key);
        if (index < 0)
        {
            return;
        }

        _fds[index].Events = MaskFor(interest);
        SetConnecting(index, key, interest);
    }

    /// <inheritdoc/>
    protected override void UnregisterHandle(nint handle, nint key)
    {
        int index = IndexOf(key);
        if (index < 0)
        {
            return;
        }

        if (_connecting[index])
        {
            _connectingCount--;
        }

        // Keep the array dense: the last entry takes the removed one's place.
        int last = --_count;
        _indexBySlot[SlotIndex(key)] = -1;
        if (index != last)
        {
            _fds[index] = _fds[last];
            _keys[index] = _keys[last];
            _connecting[index] = _connecting[last];
            _indexBySlot[SlotIndex(_keys[index])] = index;
        }

        _connecting[last] = false;
    }

    /// <inheritdoc/>
    protected override void SignalWake() => _waker.Signal();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _waker.Dispose();
        }

        if (_fds != null)
        {
            NativeMemory.Free(_fds);
            _fds = null;
        }

        base.Dispose(disposing);
    }

    private static short MaskFor(IoEvents interest) =>
        (short)(((interest & IoEvents.Read) != 0 ? Interop.Ws2_32.POLLRDNORM : 0) | ((interest & IoEvents.Write) != 0 ? Interop.Ws2_32.POLLWRNORM : 0));

    private static IoEvents ReadinessFor(short revents)
    {
        IoEvents ready = IoEvents.None;
        if ((revents & (Interop.Ws2_32.POLLRDNORM | Interop.Ws2_32.POLLHUP)) != 0)
        {
            ready |= IoEvents.Read;
        }

        if ((revents & Interop.Ws2_32.POLLWRNORM) != 0)
        {
            ready |= IoEvents.Write;
        }

        // An error (a failed connect, a reset) or an invalid socket: let the read or the connect check surface it.
        if ((revents & (Interop.Ws2_32.POLLERR | Interop.Ws2_32.POLLNVAL)) != 0)
        {
            ready |= IoEvents.Read | IoEvents.Write;
        }

        return ready;
    }

    private static bool HasPendingError(nint socket)
    {
        int error = 0;
        int length = sizeof(int);
        return Interop.Ws2_32.getsockopt(socket, Interop.Ws2_32.SOL_SOCKET, Interop.Ws2_32.SO_ERROR, &error, &length) == 0 && error != 0;
    }

    private int IndexOf(nint key)
    {
        int slot = SlotIndex(key);
        if (slot >= _indexBySlot.Length)
        {
            return -1;
        }

        int index = _indexBySlot[slot];
        return index >= 0 && _keys[index] == key ? index : -1;
    }

    private void SetConnecting(int index, nint key, IoEvents interest)
    {
        bool connecting = (interest & IoEvents.Write) != 0 && IsConnecting(key);
        if (connecting != _connecting[index])
        {
            _connecting[index] = connecting;
            _connectingCount += connecting ? 1 : -1;
        }
    }

    private void Grow()
    {
        // Pointer and capacity change together, after Realloc succeeded: WSAPoll must never
        // be told of more entries than the buffer holds.
        int capacity = _capacity * 2;
        var fds = (WsaPollFd*)NativeMemory.Realloc(_fds, (nuint)capacity * (nuint)sizeof(WsaPollFd));
        _fds = fds;
        Array.Resize(ref _keys, capacity);
        Array.Resize(ref _connecting, capacity);
        Array.Resize(ref _readyKeys, capacity);
        Array.Resize(ref _readyEvents, capacity);
        _capacity = capacity;
    }

    private void DrainWake()
    {
        _waker.Drain();
        AcknowledgeWake();
    }
}
