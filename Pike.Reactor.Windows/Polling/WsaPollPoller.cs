using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Pike.Reactor.Windows;

/// <summary>
/// Windows' <c>WSAPoll</c> over a dense native array of <c>WSAPOLLFD</c>, woken through a
/// loopback socket pair (the core's <see cref="BasePoller.WakeSocket"/>). Each wait costs time in proportion to the registered sockets; it is
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

    private WsaPollFd* _fds;
    private int _capacity;
    private int _count;
    private nint[] _keys;
    private bool[] _connecting;
    private int _connectingCount;
    private nint[] _readyKeys;
    private IoEvents[] _readyEvents;

    /// <summary>Creates the poller and its wake-up socket pair.</summary>
    public WsaPollPoller()
    {
        _capacity = 64;
        _fds = (WsaPollFd*)NativeMemory.AllocZeroed((nuint)_capacity, (nuint)sizeof(WsaPollFd));
        _keys = new nint[_capacity];
        _connecting = new bool[_capacity];
        _readyKeys = new nint[_capacity];
        _readyEvents = new IoEvents[_capacity];
        _fds[WakeIndex].Fd = WakeSocket.SafeHandle.DangerousGetHandle();
        _fds[WakeIndex].Events = Interop.Ws2_32.POLLRDNORM;
        _keys[WakeIndex] = (nint)WakeKey;
        _count = 1;
    }

    /// <inheritdoc/>
    public override string Name => "wsapoll";

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
                DrainWakeSocket();
                continue;
            }

            ProcessEvent(key, _readyEvents[i]);
        }
    }

    /// <inheritdoc/>
    /// <remarks>The registration's state is its index in the dense <c>WSAPOLLFD</c> array (entry 0 is the wake-up).</remarks>
    protected override void ApplyInterest(in InterestChange change)
    {
        if (change.IsAdd)
        {
            if (_count == _capacity)
            {
                Grow();
            }

            int added = _count++;
            _fds[added].Fd = change.Handle;
            _fds[added].Events = MaskFor(change.Interest);
            _fds[added].REvents = 0;
            _keys[added] = change.Key;
            change.State = added;
            SetConnecting(added, change.Connecting);
            return;
        }

        int index = (int)change.State;
        if (!change.IsRemove)
        {
            _fds[index].Events = MaskFor(change.Interest);
            SetConnecting(index, change.Connecting);
            return;
        }

        SetConnecting(index, false);

        // Keep the array dense: the last entry takes the removed one's place.
        int last = --_count;
        if (index != last)
        {
            _fds[index] = _fds[last];
            _keys[index] = _keys[last];
            _connecting[index] = _connecting[last];
            SetBackendState(_keys[index], index);
        }

        _connecting[last] = false;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
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

    private void SetConnecting(int index, bool connecting)
    {
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
}
