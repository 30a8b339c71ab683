namespace Pike.Reactor.Windows;

internal static partial class Interop
{
    /// <summary>
    /// The system libraries the Windows pollers bind to. Hand-written because
    /// TerraFX.Interop.Windows is not served by the package registry this project builds from;
    /// the assembly needs fewer than twenty entry points.
    /// </summary>
    internal static class Libraries
    {
        internal const string Kernel32 = "kernel32.dll";
        internal const string Ntdll = "ntdll.dll";
        internal const string Ws2_32 = "ws2_32.dll";
    }
}
