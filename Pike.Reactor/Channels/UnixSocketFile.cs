using System;
using System.IO;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// The file a Unix domain socket bound to a path leaves in the file system: found stale before a
/// bind, removed after the listener that bound it closes. Abstract names (Linux, a path that
/// starts with a NUL) have no file and are left alone.
/// </summary>
internal static class UnixSocketFile
{
    /// <summary>The file-system path of <paramref name="endpoint"/>, or null when it is not a Unix endpoint bound to a path.</summary>
    public static string? PathOf(EndPoint endpoint) =>
        endpoint is UnixDomainSocketEndPoint unix && unix.ToString() is { Length: > 0 } path && path[0] != '\0' && path[0] != '@'
            ? path
            : null;

    /// <summary>
    /// Removes <paramref name="path"/> when it is what a socket whose listener went away leaves:
    /// an entry of size 0, not a directory or link, on which nothing accepts a connection. A
    /// live socket makes it throw EADDRINUSE, as the bind would; anything with content, a
    /// directory or a symbolic link is never removed (the bind then fails as it would have).
    /// </summary>
    public static void RemoveIfStale(string path)
    {
        if (!LooksLikeSocketFile(new FileInfo(path)))
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
                File.Delete(path);
                return;
            }
            catch (SocketException error) when (error.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                // A listener with a full backlog: alive.
            }
        }

        throw new SocketException((int)SocketError.AddressAlreadyInUse); // somebody listens there
    }

    /// <summary>
    /// What .NET can tell of a socket file without stat(2)'s file type: on Unix an entry of
    /// size 0 that is neither a directory nor a link; on Windows a reparse point (AF_UNIX
    /// socket files are one).
    /// </summary>
    private static bool LooksLikeSocketFile(FileInfo entry)
    {
        if (!entry.Exists)
        {
            return false;
        }

        bool link = (entry.Attributes & FileAttributes.ReparsePoint) != 0;
        if (OperatingSystem.IsWindows())
        {
            return link;
        }

        return !link && (entry.Attributes & FileAttributes.Directory) == 0 && entry.Length == 0;
    }

    /// <summary>Removes the socket file a closing listener bound, if it is still an empty entry there.</summary>
    public static void RemoveOnClose(string path)
    {
        try
        {
            var entry = new FileInfo(path);
            if (LooksLikeSocketFile(entry))
            {
                entry.Delete();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
