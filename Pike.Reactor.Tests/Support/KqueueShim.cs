using System;
using System.IO;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Tests;

/// <summary>
/// The kqueue-over-epoll test library the test project builds with gcc (native/kqueue-shim),
/// and its diagnostics: kevent call counts and fault injection.
/// </summary>
public static unsafe class KqueueShim
{
    // The shim's numbering is libkqueue's (FreeBSD's).
    public const int EvfiltRead = -1;
    public const int EvfiltWrite = -2;
    public const int EvAdd = 0x1;
    public const int EvDelete = 0x2;
    public const int EvOneshot = 0x10;
    public const int EvReceipt = 0x40;
    public const int EvError = 0x4000;
    public const int EvEof = 0x8000;

    /// <summary>The shim next to the test assembly.</summary>
    public static string Path { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "libkqueue-shim.so");

    public static bool Built => File.Exists(Path);

    private static Lazy<nint> Handle { get; } = new(() => NativeLibrary.Load(Path));

    /// <summary>The semantics the shim follows (PIKE_KQUEUE_SHIM_MODE, read when the library loads).</summary>
    public static KqueueShimMode Mode => ((delegate* unmanaged<int>)Export("kqshim_mode"))() switch
    {
        0 => KqueueShimMode.Libkqueue,
        1 => KqueueShimMode.Bsd,
        _ => throw new InvalidOperationException("PIKE_KQUEUE_SHIM_MODE names no mode (libkqueue or bsd)"),
    };

    /// <summary>kevent calls made on the queue <paramref name="kq"/> so far.</summary>
    public static ulong KeventCalls(int kq) => ((delegate* unmanaged<int, nuint>)Export("kqshim_kevent_calls"))(kq);

    /// <summary>Changelist entries the queue <paramref name="kq"/> processed so far.</summary>
    public static ulong Changes(int kq) => ((delegate* unmanaged<int, nuint>)Export("kqshim_changes"))(kq);

    /// <summary>The next change on <paramref name="kq"/> of <paramref name="filter"/> with one of <paramref name="flags"/> fails with <paramref name="errno"/>, unapplied.</summary>
    public static void FailNext(int kq, int filter, int flags, int errno) =>
        ((delegate* unmanaged<int, int, int, int, void>)Export("kqshim_fail_next"))(kq, filter, flags, errno);

    /// <summary>The next kevent call on <paramref name="kq"/> that would wait applies its changes and returns -1 with EINTR.</summary>
    public static void InterruptNext(int kq) => ((delegate* unmanaged<int, void>)Export("kqshim_interrupt_next"))(kq);

    /// <summary>Calls the shim's kevent directly with one change (ident, filter, flags), for tests that act behind a poller's back.</summary>
    public static int Change(int kq, nuint ident, short filter, ushort flags)
    {
        byte* change = stackalloc byte[32];
        new Span<byte>(change, 32).Clear();
        *(nuint*)change = ident;
        *(short*)(change + 8) = filter;
        *(ushort*)(change + 10) = flags;
        Timespec zero = default;
        return ((delegate* unmanaged<int, byte*, int, byte*, int, Timespec*, int>)Export("kevent"))(kq, change, 1, null, 0, &zero);
    }

    /// <summary>The shim's kqueue(); -1 with <paramref name="errno"/> on failure.</summary>
    public static int Kqueue(out int errno)
    {
        Marshal.SetLastSystemError(0);
        int kq = ((delegate* unmanaged<int>)Export("kqueue"))();
        errno = Marshal.GetLastSystemError();
        return kq;
    }

    /// <summary>The shim's kevent with a timeout in milliseconds (negative: none); -1 with <paramref name="errno"/> on failure.</summary>
    public static int Kevent(int kq, ReadOnlySpan<Entry> changes, Span<Entry> events, int timeoutMilliseconds, out int errno)
    {
        Timespec timeout = new() { Seconds = timeoutMilliseconds / 1000, Nanoseconds = timeoutMilliseconds % 1000 * 1_000_000 };
        fixed (Entry* changeList = changes)
        fixed (Entry* eventList = events)
        {
            Marshal.SetLastSystemError(0);
            int result = ((delegate* unmanaged<int, Entry*, int, Entry*, int, Timespec*, int>)Export("kevent"))(
                kq, changeList, changes.Length, eventList, events.Length, timeoutMilliseconds < 0 ? null : &timeout);
            errno = Marshal.GetLastSystemError();
            return result;
        }
    }

    /// <summary>The shim's libkqueue_drain_pending_close: every queue closed so far is freed when it returns.</summary>
    public static void DrainPendingClose() => ((delegate* unmanaged<void>)Export("libkqueue_drain_pending_close"))();

    private static nint Export(string name) => NativeLibrary.GetExport(Handle.Value, name);

    /// <summary>The shim's struct kevent (libkqueue's, 32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Entry
    {
        public nuint Ident;
        public short Filter;
        public ushort Flags;
        public uint Fflags;
        public nint Data;
        public nint Udata;

        public Entry(nuint ident, int filter, int flags, nint udata = 0)
        {
            Ident = ident;
            Filter = (short)filter;
            Flags = (ushort)flags;
            Udata = udata;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public nint Nanoseconds;
    }
}
