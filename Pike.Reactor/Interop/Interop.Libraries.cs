using System.Runtime.CompilerServices;
using Pike.Reactor.NativeInterop;

namespace Pike.Reactor.Core;

internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>The C library, resolved by <see cref="LibcResolver"/> (POSIX only).</summary>
        internal const string Libc = LibcResolver.Name;

        /// <summary>Winsock (Windows only).</summary>
        internal const string Ws2_32 = "ws2_32.dll";

        [ModuleInitializer]
        [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The resolver must be in place before the first libc call of this assembly.")]
        internal static void RegisterResolver() => LibcResolver.Register(typeof(Libraries).Assembly);
    }
}
