using System;

namespace Pike.Reactor.RespServer.Protocol;

/// <summary>
/// The bytes a parsed request's arguments refer to: the input buffer, and the request's large
/// argument when it was received straight into an array of its own (docs/resp-server.md,
/// "Big requests and memory"), which a command may keep as a value instead of copying it.
/// </summary>
internal readonly ref struct RequestInput
{
    public RequestInput(ReadOnlySpan<byte> buffer, byte[]? large = null)
    {
        Buffer = buffer;
        Large = large;
    }

    /// <summary>The filled part of the input buffer.</summary>
    public ReadOnlySpan<byte> Buffer { get; }

    /// <summary>The large argument's own array, exactly its length; null when the request has none.</summary>
    public byte[]? Large { get; }

    /// <summary>The bytes of <paramref name="argument"/>.</summary>
    public ReadOnlySpan<byte> this[ArgRange argument] =>
        argument.IsExternal ? Large : Buffer.Slice(argument.Offset, argument.Length);
}
