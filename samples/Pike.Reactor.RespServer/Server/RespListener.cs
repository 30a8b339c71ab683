using System;
using System.Net.Sockets;

namespace Pike.Reactor.RespServer.Server;

/// <summary>Accepts clients and gives each a <see cref="RespConnection"/> on the same loop.</summary>
internal sealed class RespListener(RespServerHost server) : Listener(server.Poller)
{
    private long _nextId;

    protected override void HandleAccept(Socket accepted)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        accepted.NoDelay = true; // replies are written whole, once per batch: nothing to coalesce
        server.Stats.ConnectionsReceived++;
        var connection = new RespConnection(server, ++_nextId);
        try
        {
            connection.SetSocket(accepted);
        }
        catch
        {
            connection.Dispose();
            accepted.Dispose();
            throw;
        }
    }

    protected override void HandleError(Exception error)
    {
        // An accept that failed (out of descriptors, for example) is reported; the listener stays.
        ArgumentNullException.ThrowIfNull(error);
        server.Log($"accept failed: {error.GetType().Name}: {error.Message}");
    }

    protected override void HandleClose() => server.Log("the listening socket closed");
}
