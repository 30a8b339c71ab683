using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Pike.Reactor.Linux;

/// <summary>
/// Linux epoll: level-triggered reads, <c>EPOLLOUT</c> only while a channel connects or has a
/// deferred write, an eventfd for wake-ups, and one native event buffer reused by every wait.
/// Each registration's <c>epoll_data</c> is its key, not its descriptor, so that an event of
/// a channel closed earlier in the same batch never reaches a channel that reused the number.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe class EpollPoller : BasePoller
{
    /// <summary>The event buffer's size when none is given.</summary>
    public const int DefaultEventCapacity = 256;

    private const int MaxEventCapacity = 65536;
    private static readonly EpollAbi Abi = EpollAbi.Current;

    // Both stay unset (null, -1) when the constructor throws; the finalizer still runs then.
    private readonly EventFdWaker? _waker;
    private int _epfd = -1;
    private byte* _events;
    private int _capacity;

    /// <summary>Creates the epoll instance and its wake-up eventfd.</summary>
    /// <param name="eventCapacity">Events one wait can return before the buffer grows (it doubles when a wait fills it).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="eventCapacity"/> is not positive.</exception>
    /// <exception cref="NativeCallException">The kernel refused epoll_create1 or eventfd.</exception>
    public EpollPoller(int eventCapacity = DefaultEventCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(eventCapacity);
        _epfd = Interop.Libc.epoll_create1(Interop.Libc.EPOLL_CLOEXEC);
        if (_epfd < 0)
        {
            throw new NativeCallException("epoll_create1(EPOLL_CLOEXEC)", Marshal.GetLastPInvokeError());
        }

        try
        {
            _waker = new EventFdWaker();
            Control(Interop.Libc.EPOLL_CTL_ADD, "ADD", _waker.Fd, Interop.Libc.EPOLLIN, unchecked((ulong)WakeKey));
        }
        catch
        {
            _waker?.Dispose();
            Interop.Libc.close(_epfd);
            _epfd = -1; // the finalizer must not close the number again
            throw;
        }

        _capacity = Math.Min(eventCapacity, MaxEventCapacity);
        _events = (byte*)NativeMemory.Alloc((nuint)_capacity, (nuint)Abi.Size);
    }

    /// <summary>Releases the kernel resources of a poller nobody disposed.</summary>
    ~EpollPoller()
    {
        Dispose(false);
    }

    /// <inheritdoc/>
    public override string Name => "epoll";

    /// <summary>The epoll descriptor.</summary>
    public int Handle => _epfd;

    internal int WakeFd => _waker!.Fd;

    /// <inheritdoc/>
    protected override int EventCapacity => _capacity;

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        int ready = Interop.Libc.epoll_wait(_epfd, _events, _capacity, timeoutMilliseconds);
        if (ready >= 0)
        {
            return ready;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Interop.Libc.EINTR ? -1 : throw new NativeCallException($"epoll_wait(epfd {_epfd})", errno);
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        for (int i = 0; i < count; i++)
        {
            byte* slot = _events + (i * Abi.Size);
            uint events = EpollAbi.ReadEvents(slot);
            nint key = (nint)(long)Abi.ReadData(slot);
            if (key == WakeKey)
            {
                _waker!.Drain();
                AcknowledgeWake();
                continue;
            }

            IoEvents ready = IoEvents.None;
            if ((events & (Interop.Libc.EPOLLIN | Interop.Libc.EPOLLRDHUP | Interop.Libc.EPOLLHUP | Interop.Libc.EPOLLERR)) != 0)
            {
                ready |= IoEvents.Read;
            }

            if ((events & (Interop.Libc.EPOLLOUT | Interop.Libc.EPOLLHUP | Interop.Libc.EPOLLERR)) != 0)
            {
                ready |= IoEvents.Write;
            }

            if (!ProcessEvent(key, ready) && TryGetStaleHandle(key, out nint stale))
            {
                // docs/pitfalls.md 2: a registration nobody holds would be reported for ever; drop
                // it by the number it had (libuv linux.c). This works while the number still names
                // that file; channels leave the set before their descriptor closes, so Close never
                // leaves one behind.
                Interop.Libc.epoll_ctl(_epfd, Interop.Libc.EPOLL_CTL_DEL, (int)stale, null);
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

        _capacity *= 2;
        _events = (byte*)NativeMemory.Realloc(_events, (nuint)_capacity * (nuint)Abi.Size);
    }

    /// <inheritdoc/>
    protected override void ApplyInterest(in InterestChange change)
    {
        int fd = (int)change.Handle;
        if (change.IsRemove)
        {
            if (Interop.Libc.epoll_ctl(_epfd, Interop.Libc.EPOLL_CTL_DEL, fd, null) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is not (Interop.Libc.ENOENT or Interop.Libc.EBADF))
                {
                    throw new NativeCallException($"epoll_ctl(DEL, fd {fd})", errno);
                }
            }

            return;
        }

        uint mask = MaskFor(change.Interest);
        if (change.IsAdd)
        {
            Control(Interop.Libc.EPOLL_CTL_ADD, "ADD", fd, mask, (ulong)(long)change.Key);
        }
        else if (mask != MaskFor(change.Previous))
        {
            // Only the connecting flag changed otherwise: the kernel's mask stays.
            Control(Interop.Libc.EPOLL_CTL_MOD, "MOD", fd, mask, (ulong)(long)change.Key);
        }
    }

    /// <inheritdoc/>
    protected override void SignalWake() => _waker!.Signal();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        _waker?.Dispose();
        if (_epfd >= 0)
        {
            Interop.Libc.close(_epfd);
            _epfd = -1;
        }

        if (_events != null)
        {
            NativeMemory.Free(_events);
            _events = null;
        }

        base.Dispose(disposing);
    }

    private static uint MaskFor(IoEvents interest) =>
        ((interest & IoEvents.Read) != 0 ? Interop.Libc.EPOLLIN | Interop.Libc.EPOLLRDHUP : 0)
        | ((interest & IoEvents.Write) != 0 ? Interop.Libc.EPOLLOUT : 0);

    private void Control(int op, string opName, int fd, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        Abi.Write(ev, events, data);
        if (Interop.Libc.epoll_ctl(_epfd, op, fd, ev) < 0)
        {
            throw new NativeCallException($"epoll_ctl({opName}, fd {fd})", Marshal.GetLastPInvokeError());
        }
    }
}
