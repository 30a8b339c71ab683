using System;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pike.Reactor.BSD;

internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>The C library, resolved once by <see cref="Resolve"/>.</summary>
        internal const string Libc = "libc";

        private static nint s_libc;

        [ModuleInitializer]
        [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The resolver must be in place before the first libc call of this assembly.")]
        internal static void RegisterResolver() =>
            NativeLibrary.SetDllImportResolver(typeof(Libraries).Assembly, Resolve);

        /// <summary>
        /// The C library of this OS: libSystem on macOS, libc.so.7 on FreeBSD, libc.so.12 on
        /// NetBSD, glibc's libc.so.6 on Linux; else (OpenBSD's versioned libc.so.N.M, musl) the
        /// process's own global symbol scope, where libc always is.
        /// </summary>
        internal static nint LoadLibc()
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
            name == Libc ? LoadLibc() : 0;
    }
}
