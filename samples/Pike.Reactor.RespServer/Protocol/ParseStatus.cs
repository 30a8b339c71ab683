namespace Pike.Reactor.RespServer.Protocol;

/// <summary>What <see cref="RequestParser.Parse"/> found.</summary>
internal enum ParseStatus
{
    /// <summary>The buffer ends inside a request: read more (the parser keeps its place).</summary>
    Incomplete,

    /// <summary>A request is complete; its arguments are in <see cref="RequestParser.Arguments"/> (maybe none: an empty request).</summary>
    Complete,

    /// <summary>The input breaks the protocol; <see cref="RequestParser.Error"/> says how. Reply and close.</summary>
    Error,
}
