using System.Collections.Generic;

namespace Pike.Reactor.RespServer.Commands;

/// <summary>What the server remembers about one client between its commands.</summary>
internal sealed class ClientSession(long id)
{
    /// <summary>CLIENT ID's answer: unique for the server's life.</summary>
    public long Id { get; } = id;

    /// <summary>CLIENT SETNAME's name, or null.</summary>
    public byte[]? Name { get; set; }

    /// <summary>
    /// Channels SUBSCRIBEd to. Nothing is ever published; subscribing is acknowledged because
    /// StackExchange.Redis opens a subscription connection and expects Redis's replies on it.
    /// </summary>
    public List<byte[]>? Channels { get; set; }

    /// <summary>True while subscribed: Redis then answers PING in the push form and refuses most commands.</summary>
    public bool IsSubscribed => Channels is { Count: > 0 };
}
