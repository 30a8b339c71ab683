using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Pike.Reactor;

/// <summary>
/// The file a Unix domain socket bound to a path leaves in the file system, found stale before
/// a bind. (Removing it on close is .NET's: a <see cref="Socket"/> bound to a path deletes that
/// file when it is disposed.) Abstract names (Linux) have no file and are left alone.
/// </summary>
internal static partial class UnixSocketFile
{
    /// <summary>The file-system path of <paramref name="endpoint"/>, or null when it is not a Unix endpoint bound to a path.</summary>
    public static string? PathOf(EndPoint endpoint)
    {
        if (endpoint is not UnixDomainSocketEndPoint unix)
        {
            return null;
        }

        // ToString shows an abstract name with a leading '@', as it shows a path that starts
        // with one: the address itself tells them apart (on Linux, the only system with
        // abstract names, sun_path follows the two-byte family and starts with a NUL).
        if (OperatingSystem.IsLinux())
        {
            SocketAddress address = unix.Serialize();
            if (address.Size <= 2 || address[2] == 0)
            {
                return null;
            }
        }

        return unix.ToString() is { Length: > 0 } path ? path : null;
    }

    /// <summary>
    /// Removes <paramref name="path"/> when it is what a socket whose listener went away leaves:
    /// a socket file on which a connection is refused. A live socket makes it throw
    /// EADDRINUSE, as the bind would; anything that is not a socket file is never removed, and
    /// whatever the check cannot settle is left for the bind to fail on as it would have.
    /// </summary>
    public static void RemoveIfStale(string path)
    {
        if (!IsSocketFile(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false })
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody accepts on it: stale.
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }

                return;
            }
            catch (SocketException error) when (error.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                // A listener with a full backlog: alive.
            }
            catch (SocketException)
            {
                return; // gone meanwhile, not ours to reach: the bind says what it says
            }
        }

        throw new SocketException((int)SocketError.AddressAlreadyInUse); // somebody listens there
    }

    /// <summary>
    /// Whether <paramref name="path"/> names a socket file itself (not a link to one). On Unix
    /// from lstat(2)'s file type, through the runtime's own System.Native (its stat record
    /// starts with flags and then the mode, whose S_IFMT bits it gives in the POSIX values);
    /// where that cannot be asked, false, so that nothing is removed. On Windows, where an
    /// AF_UNIX socket file is a reparse point, one that is not a link or a directory.
    /// </summary>
    private static bool IsSocketFile(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            var entry = new FileInfo(path);
            return entry.Exists
                && (entry.Attributes & FileAttributes.ReparsePoint) != 0
                && (entry.Attributes & FileAttributes.Directory) == 0
                && entry.LinkTarget is null;
        }

        Span<byte> status = stackalloc byte[512]; // larger than any version's record
        try
        {
            if (LStat(path, ref MemoryMarshal.GetReference(status)) != 0)
            {
                return false;
            }
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }

        const int FileTypeMask = 0xF000; // S_IFMT
        const int Socket = 0xC000;       // S_IFSOCK
        int mode = MemoryMarshal.Read<int>(status[4..]);
        return (mode & FileTypeMask) == Socket;
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LStat(string path, ref byte status);
}
