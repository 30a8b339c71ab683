using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary>
/// One socket's AFD poll, in native memory that never moves: the kernel writes
/// <see cref="Iosb"/> and <see cref="Info"/> until the poll's completion packet arrives, so the
/// block outlives its registration when a cancelled poll is still in flight
/// (docs/pitfalls.md 16) and is freed only when that packet is taken from the port.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollOperation
{
    /// <summary>First field: its address is the poll's APC context, which comes back as OVERLAPPED_ENTRY.lpOverlapped.</summary>
    public IoStatusBlock Iosb;
    public AfdPollInfo Info;
    public nint Key;
    public nint BaseHandle;

    /// <summary>The AFD events the channel wants now.</summary>
    public uint Wanted;

    /// <summary>The AFD events of the poll in flight.</summary>
    public uint Submitted;
    public PollState State;

    /// <summary>Unregistered: nobody will re-arm it; free it when its completion arrives.</summary>
    public bool Orphaned;

    /// <summary>AFD reported LOCAL_CLOSE (or the socket vanished): never re-armed again.</summary>
    public bool Dropped;

    /// <summary>In the poller's re-arm queue.</summary>
    public bool Queued;
}
