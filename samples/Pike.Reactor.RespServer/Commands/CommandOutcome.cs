namespace Pike.Reactor.RespServer.Commands;

/// <summary>What the connection does after a command's reply is written.</summary>
internal enum CommandOutcome
{
    /// <summary>Go on with the next request.</summary>
    Continue,

    /// <summary>Send what is buffered, then close (QUIT).</summary>
    CloseAfterReply,
}
