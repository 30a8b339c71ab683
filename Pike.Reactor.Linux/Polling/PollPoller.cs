using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Pike.Reactor.Linux;

/// <summary>
/// poll(2) over a dense array of <c>pollfd</c> (entry 0 is the wake-up eventfd). Each wait
/// costs time in proportion to the number of registered sockets; prefer <see cref="EpollPoller"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PollPoller : BasePoller
{
    private readonly EventFdWaker? _waker; // null when the constructor threw; the finalizer still runs then
    private PollFd[] _fds = new PollFd[64];
    private nint[] _keys = new nint[64];
    private int _count;
    private nint[] _readyKeys = new nint[64];
    private IoEvents[] _readyEvents = new IoEvents[64];

    /// <summary>Creates the poller and its wake-up eventfd.</summary>
    /// <exception cref="NativeCallException">The kernel refused eventfd.</exception>
    public PollPoller()
    {
        _waker = new EventFdWaker();
        _fds[0] = new PollFd { Fd = _waker.Fd, Events = Interop.Libc.POLLIN };
        _keys[0] = (nint)WakeKey;
        _count = 1;
    }

    /// <summary>Releases the kernel resources of a poller nobody disposed.</summary>
    ~PollPoller()
    {
        Dispose(false);
    }

    /// <inheritdoc/>
    public override string Name => "poll";

    internal int WakeFd => _waker!.Fd;

    /// <inheritdoc/>
    protected override unsafe int WaitForEvents(int timeoutMilliseconds)
    {
        int ready;
        fixed (PollFd* fds = _fds)
        {
            ready = Interop.Libc.poll(fds, (nuint)_count, timeoutMilliseconds);
        }

        if (ready < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == Interop.Libc.EINTR ? -1 : throw new NativeCallException("poll", errno);
        }

        // Copy out before dispatching: handlers add and remove entries of _fds.
        if (_readyKeys.Length < ready)
        {
            Array.Resize(ref _readyKeys, Math.Max(ready, _readyKeys.Length * 2));
            Array.Resize(ref _readyEvents, _readyKeys.Length);
        }

        int found = 0;
        for (int i = 0; i < _count && found < ready; i++)
        {
            short revents = _fds[i].Revents;
            if (revents == 0)
            {
                continue;
            }

            IoEvents events = IoEvents.None;
            if ((revents & (Interop.Libc.POLLIN | Interop.Libc.POLLRDHUP | Interop.Libc.POLLHUP | Interop.Libc.POLLERR | Interop.Libc.POLLNVAL)) != 0)
            {
                events |= IoEvents.Read;
            }

            if ((revents & (Interop.Libc.POLLOUT | Interop.Libc.POLLHUP | Interop.Libc.POLLERR | Interop.Libc.POLLNVAL)) != 0)
            {
                events |= IoEvents.Write;
            }

            _readyKeys[found] = _keys[i];
            _readyEvents[found] = events;
            found++;
        }

        return found;
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        for (int i = 0; i < count; i++)
        {
            nint key = _readyKeys[i];
            if (key == WakeKey)
            {
                _waker!.Drain();
                AcknowledgeWake();
            }
            else
            {
                ProcessEvent(key, _readyEvents[i]);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>The registration's state is its index in the dense <c>pollfd</c> array (entry 0 is the wake-up).</remarks>
    protected override void ApplyInterest(in InterestChange change)
    {
        if (change.IsAdd)
        {
            if (_count == _fds.Length)
            {
                Array.Resize(ref _fds, _fds.Length * 2);
                Array.Resize(ref _keys, _fds.Length);
            }

            _fds[_count] = new PollFd { Fd = (int)change.Handle, Events = MaskFor(change.Interest) };
            _keys[_count] = change.Key;
            change.State = _count++;
            return;
        }

        int index = (int)change.State;
        if (!change.IsRemove)
        {
            _fds[index].Events = MaskFor(change.Interest);
            return;
        }

        // Keep the array dense: the last entry takes the removed one's place.
        int last = --_count;
        if (index != last)
        {
            _fds[index] = _fds[last];
            _keys[index] = _keys[last];
            SetBackendState(_keys[index], index);
        }

        _fds[last] = default;
        _keys[last] = 0;
    }

    /// <inheritdoc/>
    protected override void SignalWake() => _waker!.Signal();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        _waker?.Dispose();
        base.Dispose(disposing);
    }

    private static short MaskFor(IoEvents interest) =>
        (short)(((interest & IoEvents.Read) != 0 ? Interop.Libc.POLLIN | Interop.Libc.POLLRDHUP : 0)
        | ((interest & IoEvents.Write) != 0 ? Interop.Libc.POLLOUT : 0));
}
