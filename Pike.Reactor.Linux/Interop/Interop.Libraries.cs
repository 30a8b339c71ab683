using System;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>The C library, resolved once by <see cref="Resolve"/>.</summary>
        internal const string Libc = "libc";

        private static nint s_libc;

        // "libc" alone does not load on glibc systems (libc.so is a linker script); map it to
        // glibc's real file name, or else to the process's own global symbol scope (musl).
        [ModuleInitializer]
        [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The resolver must be in place before the first libc call of this assembly.")]
        internal static void RegisterResolver() =>
            NativeLibrary.SetDllImportResolver(typeof(Libraries).Assembly, Resolve);

        private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
        {
            if (name != Libc)
            {
                return 0;
            }

            if (s_libc == 0)
            {
                s_libc = NativeLibrary.TryLoad("libc.so.6", out nint glibc) ? glibc : NativeLibrary.GetMainProgramHandle();
            }

            return s_libc;
        }
    }
}
