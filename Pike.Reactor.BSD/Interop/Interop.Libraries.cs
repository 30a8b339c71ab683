using System.Runtime.CompilerServices;
using Pike.Reactor.NativeInterop;

namespace Pike.Reactor.BSD;

internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>The C library, resolved by <see cref="LibcResolver"/>.</summary>
        internal const string Libc = LibcResolver.Name;

        [ModuleInitializer]
        [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The resolver must be in place before the first libc call of this assembly.")]
        internal static void RegisterResolver() => LibcResolver.Register(typeof(Libraries).Assembly);

        internal static nint LoadLibc() => LibcResolver.Load();
    }
}
