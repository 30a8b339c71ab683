using System;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace Pike.Reactor;

/// <summary>
/// One spare descriptor per process, held so that a listener out of descriptors can still
/// accept a waiting connection and close it, and the client learns at once instead of
/// waiting in the backlog (libuv's <c>uv__emfile_trick</c> in <c>src/unix/stream.c</c>;
/// docs/pitfalls.md 18). Opened by the first <see cref="Listener.Listen"/> on a POSIX system;
/// Windows has no per-process descriptor limit, and none is kept there.
/// </summary>
internal static class DescriptorReserve
{
    private static readonly object Gate = new();
    private static SafeFileHandle? _spare;

    /// <summary>Opens the spare descriptor unless it is held already; false when it cannot be opened now.</summary>
    public static bool Ensure()
    {
        if (OperatingSystem.IsWindows())
        {
            return false;
        }

        lock (Gate)
        {
            return EnsureLocked();
        }
    }

    /// <summary>
    /// Frees the spare descriptor, runs <paramref name="useFreedDescriptor"/> and takes the spare
    /// back. Returns false (and runs nothing) when no spare is held. Another thread of the process
    /// may take the freed number first; then the spare is lost until a later <see cref="Ensure"/>.
    /// </summary>
    public static bool WithSpareReleased<TState>(TState state, Action<TState> useFreedDescriptor)
    {
        lock (Gate)
        {
            if (_spare is null)
            {
                return false;
            }

            _spare.Dispose();
            _spare = null;
            try
            {
                useFreedDescriptor(state);
            }
            finally
            {
                EnsureLocked();
            }

            return true;
        }
    }

    private static bool EnsureLocked()
    {
        if (_spare is not null)
        {
            return true;
        }

        try
        {
            _spare = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return true;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return false; // out of descriptors already, or no /dev/null: the listener still backs off
        }
    }
}
