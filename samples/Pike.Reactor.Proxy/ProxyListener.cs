using System;
using System.IO;
using System.Net.Sockets;
using Pike.Reactor;

namespace Pike.Reactor.Samples.Proxy;

/// <summary>Accepts clients and gives each a connection to the upstream, up to <see cref="ProxyOptions.MaxClients"/> at once.</summary>
internal sealed class ProxyListener(BasePoller poller, ProxyOptions options, TextWriter log) : Listener(poller)
{
    // Every side reads into this one buffer: the loop is one thread, and a read is written to
    // the peer (or copied into its queue) before the next read.
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _clients;
    private bool _refusing;

    /// <summary>Pairs open now.</summary>
    public int Clients => _clients;

    protected override void HandleAccept(Socket accepted)
    {
        if (_clients >= options.MaxClients)
        {
            if (!_refusing)
            {
                log.WriteLine($"proxy: {options.MaxClients} clients already; refusing more");
                _refusing = true;
            }

            accepted.Dispose();
            return;
        }

        _refusing = false;
        ProxySide client = ProxySide.Open(Poller, accepted, options.Upstream, options.ConnectTimeout, options.IdleTimeout, _buffer, log);
        if (!client.IsClosed)
        {
            _clients++;
            client.Closed += ClientClosed;
        }
    }

    private void ClientClosed(Transport client, CloseReason reason) => _clients--;
}
