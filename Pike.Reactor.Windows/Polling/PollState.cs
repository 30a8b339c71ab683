namespace Pike.Reactor.Windows;

/// <summary>Where a socket's AFD poll stands.</summary>
internal enum PollState : byte
{
    /// <summary>No poll in flight.</summary>
    Idle,

    /// <summary>A poll is in flight.</summary>
    Pending,

    /// <summary>A poll is in flight and NtCancelIoFileEx was called on it; its completion is still to come.</summary>
    Cancelling,
}
