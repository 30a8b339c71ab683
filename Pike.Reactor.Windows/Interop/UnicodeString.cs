using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary><c>UNICODE_STRING</c>: lengths in bytes, without a terminator.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct UnicodeString
{
    public ushort Length;
    public ushort MaximumLength;
    public char* Buffer;
}
