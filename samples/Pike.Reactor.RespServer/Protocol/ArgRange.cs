namespace Pike.Reactor.RespServer.Protocol;

/// <summary>Where one argument of a parsed request sits in the connection's input buffer.</summary>
internal readonly record struct ArgRange(int Offset, int Length);
