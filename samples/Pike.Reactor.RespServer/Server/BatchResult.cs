namespace Pike.Reactor.RespServer.Server;

/// <summary>What a connection does after <see cref="ClientInput.ProcessAvailable"/> ran what it had.</summary>
internal enum BatchResult
{
    /// <summary>Send the replies and read on.</summary>
    Continue,

    /// <summary>Send the replies, then close: QUIT, or a protocol error (its reply is the last).</summary>
    CloseAfterReply,

    /// <summary>Close now without sending: the client's output or request passed a limit.</summary>
    Drop,

    /// <summary>
    /// Send the replies; the client's turn is over but complete requests are left: run
    /// <see cref="ClientInput.ProcessAvailable"/> again in a later loop iteration, after the
    /// other clients had theirs.
    /// </summary>
    Yield,
}
