using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// What a kernel backend is told when a channel's interest changes
/// (<see cref="BasePoller.ApplyInterest"/>): the socket, its registration key, the interest the
/// kernel watches now and the one it must watch from here on, whether the channel is
/// connecting, and the backend's own value for the registration, which the core keeps in the
/// channel's slot for it.
/// </summary>
public readonly ref struct InterestChange
{
    private readonly ref nint _state;

    internal InterestChange(Socket socket, nint handle, nint key, IoEvents previous, IoEvents interest, bool connecting, bool readsStream, ref nint state)
    {
        Socket = socket;
        ReadsStream = readsStream;
        Handle = handle;
        Key = key;
        Previous = previous;
        Interest = interest;
        Connecting = connecting;
        _state = ref state;
    }

    /// <summary>The channel's socket.</summary>
    public Socket Socket { get; }

    /// <summary>The socket's OS handle (the descriptor on POSIX).</summary>
    public nint Handle { get; }

    /// <summary>The registration key: what the kernel should hand back with the socket's events.</summary>
    public nint Key { get; }

    /// <summary>What the kernel watches now; <see cref="IoEvents.None"/>: the socket is not in the kernel set.</summary>
    public IoEvents Previous { get; }

    /// <summary>What the kernel must watch from now on; <see cref="IoEvents.None"/>: remove the socket from the kernel set.</summary>
    public IoEvents Interest { get; }

    /// <summary>True while the channel connects (its write interest then stands for the connect's outcome).</summary>
    public bool Connecting { get; }

    /// <summary>
    /// True when the channel is a connected byte stream that reads with <see cref="Transport.Recv(System.Span{byte})"/>
    /// (not a listener, a datagram socket or a connecting socket): a backend that receives for
    /// its channels (<see cref="BasePoller.TakeReceived"/>) may receive for this one.
    /// </summary>
    public bool ReadsStream { get; }

    /// <summary>The backend's own value for this registration, kept by the core; 0 when the socket is first added.</summary>
    public ref nint State => ref _state;

    /// <summary>True when the socket is not in the kernel set yet.</summary>
    public bool IsAdd => Previous == IoEvents.None;

    /// <summary>True when the socket leaves the kernel set.</summary>
    public bool IsRemove => Interest == IoEvents.None;
}
