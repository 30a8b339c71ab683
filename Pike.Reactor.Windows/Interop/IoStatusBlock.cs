using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary>
/// <c>IO_STATUS_BLOCK</c> (16 bytes on 64-bit): the union of <c>NTSTATUS Status</c> and
/// <c>PVOID Pointer</c> is pointer-sized, so <c>Status</c> sits in the low half of the first
/// word and <c>Information</c> at offset 8.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoStatusBlock
{
    public nint StatusOrPointer;
    public nuint Information;

    public readonly int Status => (int)(long)StatusOrPointer;
}
