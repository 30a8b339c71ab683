using System;
using System.Net.Sockets;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// Accepts clients and gives each a <see cref="RespConnection"/> on the same loop. Beyond
/// maxclients a client is told so and closed, as by redis-server; out of descriptors, the
/// listener backs off (see <see cref="Listener.HandleResourcesExhausted"/>) and the log says so
/// once per episode.
/// </summary>
internal sealed class RespListener(RespServerHost server) : Listener(server.Poller)
{
    /// <summary>Redis's reply, byte for byte (networking.c, acceptCommonHandler).</summary>
    private static ReadOnlySpan<byte> MaxClientsReached => "-ERR max number of clients reached\r\n"u8;

    private long _refusedBeforeEpisode;

    protected override void HandleAccept(Socket accepted)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        if (server.Stats.ConnectedClients >= server.MaxClients)
        {
            Refuse(accepted);
            return;
        }

        accepted.NoDelay = true; // replies are written whole, once per batch: nothing to coalesce
        server.Stats.ConnectionsReceived++;
        var connection = new RespConnection(server, server.Shared.NextClientId());
        try
        {
            connection.SetSocket(accepted);
        }
        catch
        {
            connection.Dispose();
            throw; // the listener disposes the accepted socket
        }
    }

    /// <summary>Says why and closes; a fresh socket's send buffer takes the line whole, and a client already gone is no matter.</summary>
    private void Refuse(Socket accepted)
    {
        server.Stats.RejectedConnections++;
        accepted.Blocking = false;
        accepted.Send(MaxClientsReached, SocketFlags.None, out SocketError _);
        accepted.Dispose();
    }

    protected override void HandleAcceptFailed(Exception error)
    {
        // Setting up one client failed: that client is closed, the others and the listener go on.
        ArgumentNullException.ThrowIfNull(error);
        server.Log($"accept: client setup failed: {error.GetType().Name}: {error.Message}");
    }

    protected override void HandleResourcesExhausted(SocketException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        _refusedBeforeEpisode = RefusedConnections;
        server.Log(
            $"accept: out of {(error.SocketErrorCode == SocketError.TooManyOpenSockets ? "file descriptors" : "socket buffers")} ({error.Message}); " +
            $"{server.Stats.ConnectedClients} clients connected; refusing new clients and retrying (at most every second) until some leave");
    }

    protected override void HandleResourcesRecovered() =>
        server.Log($"accept: accepting again; {RefusedConnections - _refusedBeforeEpisode} clients were refused meanwhile");

    protected override void HandleError(Exception error)
    {
        // An accept that failed for a reason of the listener's own is reported; the listener stays.
        ArgumentNullException.ThrowIfNull(error);
        server.Log($"accept failed: {error.GetType().Name}: {error.Message}");
    }

    protected override void HandleClose() => server.Log("the listening socket closed");
}
