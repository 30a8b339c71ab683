using System;
using System.Runtime.InteropServices;

namespace Pike.Reactor.BSD;

/// <summary>Where kqueue comes from on this host, and why it cannot run when it cannot.</summary>
internal static class KqueueHost
{
    /// <summary>True on macOS, FreeBSD, OpenBSD and NetBSD, whose C library has kqueue.</summary>
    public static bool HasNativeKqueue =>
        OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS() || OperatingSystem.IsMacCatalyst()
        || OperatingSystem.IsFreeBSD()
        || RuntimeInformation.IsOSPlatform(OSPlatform.Create("OPENBSD"))
        || RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD"));

    /// <summary>The library <see cref="BsdPollerProvider.LibraryVariable"/> names, or null.</summary>
    public static string? ConfiguredLibrary
    {
        get
        {
            string? path = Environment.GetEnvironmentVariable(BsdPollerProvider.LibraryVariable);
            return string.IsNullOrWhiteSpace(path) ? null : path.Trim();
        }
    }

    /// <summary>Why kqueue cannot run here, or null when it can (as far as can be told without loading anything).</summary>
    public static string? UnavailableReason() => UnavailableReason(ConfiguredLibrary);

    /// <summary>Why kqueue cannot run here when <paramref name="configured"/> is the library named (or none), or null when it can.</summary>
    public static string? UnavailableReason(string? configured)
    {
        if (IntPtr.Size != 8)
        {
            return "Pike.Reactor.BSD knows the struct kevent layouts of 64-bit processes only; this process is 32-bit.";
        }

        if (HasNativeKqueue || configured is not null)
        {
            return null;
        }

        return $"kqueue is the kernel mechanism of macOS and the BSDs; this is {RuntimeInformation.OSDescription}. "
            + $"Set {BsdPollerProvider.LibraryVariable} to a library with libkqueue's API (libkqueue.so) to use it here.";
    }

    /// <summary>The library to use when none was given: the C library of a BSD, else the configured one.</summary>
    /// <exception cref="PollerUnavailableException">Neither exists here.</exception>
    public static KqueueLibrary DefaultLibrary()
    {
        if (UnavailableReason() is { } reason)
        {
            throw new PollerUnavailableException(reason);
        }

        return HasNativeKqueue ? KqueueLibrary.ForHost() : KqueueLibrary.Load(ConfiguredLibrary!, KeventAbi.Current);
    }
}
