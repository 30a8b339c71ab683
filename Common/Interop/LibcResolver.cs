using System;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Pike.Reactor.NativeInterop;

/// <summary>
/// Resolves the library name "libc" of an assembly's <c>[LibraryImport]</c>s to the C library of
/// the OS it runs on. Compiled into the core (for its datagram calls) and each POSIX backend assembly (Pike.Reactor.Linux,
/// Pike.Reactor.BSD), which registers it from a module initializer.
/// </summary>
internal static class LibcResolver
{
    /// <summary>The library name the bindings use.</summary>
    internal const string Name = "libc";

    private static nint s_libc;

    internal static void Register(Assembly assembly) => NativeLibrary.SetDllImportResolver(assembly, Resolve);

    /// <summary>
    /// The C library of this OS: libSystem on macOS, libc.so.7 on FreeBSD, libc.so.12 on NetBSD,
    /// glibc's libc.so.6 on Linux (plain "libc" does not load there: libc.so is a linker
    /// script); else (OpenBSD's versioned libc.so.N.M, musl) the process's own global symbol
    /// scope, where libc always is.
    /// </summary>
    internal static nint Load()
    {
        if (s_libc != 0)
        {
            return s_libc;
        }

        string? file = OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS() || OperatingSystem.IsMacCatalyst() ? "/usr/lib/libSystem.B.dylib"
            : OperatingSystem.IsFreeBSD() ? "libc.so.7"
            : RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD")) ? "libc.so.12"
            : OperatingSystem.IsLinux() ? "libc.so.6"
            : null;
        s_libc = file is not null && NativeLibrary.TryLoad(file, out nint handle) ? handle : NativeLibrary.GetMainProgramHandle();
        return s_libc;
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name == Name ? Load() : 0;
}
