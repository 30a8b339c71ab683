namespace Pike.Reactor;

/// <summary>Why a transport closed (<see cref="Transport.CloseReason"/>, <see cref="Transport.Closed"/>, <see cref="Transport.HandleClose(CloseReason)"/>).</summary>
public enum CloseReason
{
    /// <summary>Its owner closed it (<see cref="Transport.Close"/>, a disposed poller), or a <see cref="Transport.CloseAfterFlush"/> finished: everything queued was sent and the peer closed its end.</summary>
    Local,

    /// <summary>The peer closed its end: a read met the end of stream.</summary>
    EndOfStream,

    /// <summary>The peer reset or aborted the connection, or the socket was shut down or disposed under the transport.</summary>
    Reset,

    /// <summary>A handler failed or a connect failed, and the transport was closed for it (by default, <see cref="Transport.HandleError"/> closes).</summary>
    Error,

    /// <summary>Nothing was read or written for <see cref="Transport.IdleTimeout"/> (by default, <see cref="Transport.HandleIdle"/> closes).</summary>
    Idle,

    /// <summary>A <see cref="Transport.CloseAfterFlush"/> ran out of time: the queue was not sent, or the peer did not close, before its timeout; what was still queued is lost.</summary>
    FlushTimeout,
}
