using System;
using System.Runtime.InteropServices;

namespace Pike.Reactor.BSD;

/// <summary>
/// The <c>kqueue</c> and <c>kevent</c> entry points, taken at run time from the C library of a
/// BSD or macOS, or from a libkqueue-compatible library named by path (on Linux). The library
/// is chosen at run time, so these are function pointers rather than <c>[LibraryImport]</c>s;
/// errno is read right after each call, as the generated stubs of <c>SetLastError = true</c> do.
/// </summary>
internal sealed unsafe class KqueueLibrary
{
    private readonly delegate* unmanaged<int> _kqueue;
    private readonly delegate* unmanaged<int, void*, int, void*, int, Timespec*, int> _kevent;
    private readonly delegate* unmanaged<int, void*, nuint, void*, nuint, Timespec*, int> _keventSizeT;
    private readonly delegate* unmanaged<void> _drainPendingClose;

    private KqueueLibrary(nint handle, string description, KeventAbi abi, bool isKernel)
    {
        Description = description;
        Abi = abi;
        IsKernel = isKernel;
        if (NativeLibrary.TryGetExport(handle, "libkqueue_drain_pending_close", out nint drain))
        {
            _drainPendingClose = (delegate* unmanaged<void>)drain;
        }

        _kqueue = (delegate* unmanaged<int>)Export(handle, "kqueue", description);
        nint kevent = Export(handle, abi.KeventExport, description);
        if (abi.CountsAreSizeT)
        {
            _keventSizeT = (delegate* unmanaged<int, void*, nuint, void*, nuint, Timespec*, int>)kevent;
        }
        else
        {
            _kevent = (delegate* unmanaged<int, void*, int, void*, int, Timespec*, int>)kevent;
        }
    }

    /// <summary>Where the entry points came from, for messages.</summary>
    public string Description { get; }

    public KeventAbi Abi { get; }

    /// <summary>True for the C library of a BSD or macOS, whose kevent is the kernel's; false for a library loaded by path (libkqueue).</summary>
    public bool IsKernel { get; }

    /// <summary>The C library of this macOS or BSD, with its own <c>struct kevent</c>.</summary>
    public static KqueueLibrary ForHost() => new(Interop.Libraries.LoadLibc(), "the C library", KeventAbi.Current, isKernel: true);

    /// <summary>A library with libkqueue's API and ABI, loaded from <paramref name="path"/>.</summary>
    /// <exception cref="DllNotFoundException">It does not load.</exception>
    /// <exception cref="EntryPointNotFoundException">It lacks kqueue or kevent.</exception>
    public static KqueueLibrary Load(string path, KeventAbi abi)
    {
        ArgumentNullException.ThrowIfNull(path);
        // A library, once loaded, stays for the process: function pointers into it may be held by
        // pollers not yet collected, so it is never unloaded.
        nint handle = NativeLibrary.Load(path);
        return new KqueueLibrary(handle, path, abi, isKernel: false);
    }

    /// <summary>kqueue(); returns the descriptor, or -1 with <paramref name="errno"/>.</summary>
    public int Kqueue(out int errno)
    {
        Marshal.SetLastSystemError(0);
        int fd = _kqueue();
        errno = fd < 0 ? Marshal.GetLastSystemError() : 0;
        return fd;
    }

    /// <summary>kevent(); returns the entries placed in <paramref name="events"/>, or -1 with <paramref name="errno"/>.</summary>
    public int Kevent(int kq, byte* changes, int changeCount, byte* events, int eventCount, Timespec* timeout, out int errno)
    {
        Marshal.SetLastSystemError(0);
        int result = _keventSizeT != null
            ? _keventSizeT(kq, changes, (nuint)changeCount, events, (nuint)eventCount, timeout)
            : _kevent(kq, changes, changeCount, events, eventCount, timeout);
        errno = result < 0 ? Marshal.GetLastSystemError() : 0;
        return result;
    }

    /// <summary>Makes libkqueue release the descriptors of closed queues now rather than on its monitor thread; nothing where the library lacks it.</summary>
    public void DrainPendingClose()
    {
        if (_drainPendingClose != null)
        {
            _drainPendingClose();
        }
    }

    private static nint Export(nint handle, string name, string description) =>
        NativeLibrary.TryGetExport(handle, name, out nint address)
            ? address
            : throw new EntryPointNotFoundException($"{description} exports no '{name}'; kqueue needs kqueue and kevent (libkqueue's API).");
}
