namespace Pike.Reactor.RespServer.Protocol;

/// <summary>
/// Where one argument of a parsed request sits in the connection's input buffer; or, with
/// <see cref="ExternalOffset"/>, that it is the request's large argument, received into an
/// array of its own (see <see cref="RequestInput"/>).
/// </summary>
internal readonly record struct ArgRange(int Offset, int Length)
{
    /// <summary>The offset of the argument that lies outside the input buffer.</summary>
    public const int ExternalOffset = -1;

    /// <summary>Whether the argument is the request's large argument, outside the buffer.</summary>
    public bool IsExternal => Offset == ExternalOffset;
}
