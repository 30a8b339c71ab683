using System;
using System.Net.Sockets;
using Pike.Reactor;

namespace Pike.Reactor.Samples.Echo;

/// <summary>Accepts connections and gives each an <see cref="EchoConnection"/>.</summary>
internal sealed class EchoServer(BasePoller poller) : Listener(poller)
{
    /// <summary>Called on the loop thread when a connection ends.</summary>
    public Action? ConnectionClosed { get; set; }

    protected override void HandleAccept(Socket accepted)
    {
        var connection = new EchoConnection(Poller, () => ConnectionClosed?.Invoke());
        connection.SetSocket(accepted);
        Console.WriteLine($"server: accepted {connection.Address}");
    }
}
