using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

/// <summary>Which <c>struct epoll_event</c> layout the running process uses, and how to read and write it in place.</summary>
internal readonly struct EpollAbi
{
    private EpollAbi(bool packed)
    {
        IsPacked = packed;
        Size = packed ? Unsafe.SizeOf<EpollEventPacked>() : Unsafe.SizeOf<EpollEventAligned>();
        DataOffset = packed ? 4 : 8;
    }

    public static EpollAbi Current { get; } = For(RuntimeInformation.ProcessArchitecture);

    public bool IsPacked { get; }

    public int Size { get; }

    public int DataOffset { get; }

    public static EpollAbi For(Architecture architecture) =>
        new(architecture is Architecture.X64 or Architecture.X86);

    public unsafe void Write(byte* slot, uint events, ulong data)
    {
        Unsafe.WriteUnaligned(slot, events);
        Unsafe.WriteUnaligned(slot + DataOffset, data);
    }

    public static unsafe uint ReadEvents(byte* slot) => Unsafe.ReadUnaligned<uint>(slot);

    public unsafe ulong ReadData(byte* slot) => Unsafe.ReadUnaligned<ulong>(slot + DataOffset);
}
