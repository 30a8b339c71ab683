using System;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

/// <summary>The wake-up descriptor of the Linux pollers: a non-blocking eventfd the loop watches for reading.</summary>
internal sealed class EventFdWaker : IDisposable
{
    public EventFdWaker()
    {
        Fd = Interop.Libc.eventfd(0, Interop.Libc.EFD_NONBLOCK | Interop.Libc.EFD_CLOEXEC);
        if (Fd < 0)
        {
            throw new NativeCallException("eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)", Marshal.GetLastPInvokeError());
        }
    }

    public int Fd { get; private set; }

    /// <summary>Makes the descriptor readable. Any thread.</summary>
    public unsafe void Signal()
    {
        ulong one = 1;
        while (Interop.Libc.write(Fd, &one, sizeof(ulong)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.Libc.EAGAIN)
            {
                // The counter is at its limit (docs/pitfalls.md 7, mio waker/eventfd.rs):
                // empty it and write again; the loop sees one readiness either way.
                Drain();
            }
            else if (errno != Interop.Libc.EINTR)
            {
                throw new NativeCallException($"write(eventfd {Fd})", errno);
            }
        }
    }

    /// <summary>Empties the counter so that the descriptor stops being readable.</summary>
    public unsafe void Drain()
    {
        ulong value;
        Interop.Libc.read(Fd, &value, sizeof(ulong));
    }

    public void Dispose()
    {
        GC.SuppressFinalize(this);
        if (Fd >= 0)
        {
            Interop.Libc.close(Fd);
            Fd = -1;
        }
    }
}
