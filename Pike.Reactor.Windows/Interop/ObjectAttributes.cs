using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary><c>OBJECT_ATTRIBUTES</c> (48 bytes on 64-bit), naming the object <c>NtCreateFile</c> opens.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ObjectAttributes
{
    public uint Length;
    public nint RootDirectory;
    public UnicodeString* ObjectName;
    public uint Attributes;
    public void* SecurityDescriptor;
    public void* SecurityQualityOfService;
}
