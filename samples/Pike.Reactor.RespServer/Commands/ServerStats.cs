using System;

namespace Pike.Reactor.RespServer.Commands;

/// <summary>
/// The counters INFO reports. <see cref="AllocatedBytes"/> reads the bytes the serving
/// thread(s) have allocated, which is how "bytes per request in steady state" is measured.
/// </summary>
internal sealed class ServerStats(Func<long> allocatedBytes)
{
    public long CommandsProcessed { get; set; }

    public long ConnectionsReceived { get; set; }

    public long ConnectedClients { get; set; }

    /// <summary>Clients refused at accept because maxclients were connected (Redis's rejected_connections).</summary>
    public long RejectedConnections { get; set; }

    /// <summary>Clients closed because their unsent output passed the limit.</summary>
    public long ClientsDroppedForOutput { get; set; }

    /// <summary>Clients closed after a protocol error.</summary>
    public long ProtocolErrors { get; set; }

    public Func<long> AllocatedBytes { get; } = allocatedBytes;
}
