using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Pike.Reactor;

// Usage: Pike.Reactor.Tests.ListenerHost POLLER [queue]   (POLLER: a factory name, io_uring-batching or io_uring-recv)
// Listens on a free loopback port and keeps every client, echoing what it sends, until the
// client leaves ("queue": RefuseWhileExhausted = false). Prints "listening PORT" first, then one line per listener event
// ("exhausted ERROR ERRNO", "recovered refused=N"); ends when standard input closes.
if (args.Length is < 1 or > 2 || (args.Length == 2 && args[1] != "queue"))
{
    Console.Error.WriteLine("usage: Pike.Reactor.Tests.ListenerHost POLLER [queue]");
    return 2;
}

// "io_uring-batching" is the test suite's name for io_uring with wake batching (50 µs),
// "io_uring-recv" for io_uring with receives through the ring.
using BasePoller poller = args[0] switch
{
    "io_uring-batching" when OperatingSystem.IsLinux() => new Pike.Reactor.Linux.IoUringPoller(wakeBatching: TimeSpan.FromMicroseconds(50)),
    "io_uring-recv" when OperatingSystem.IsLinux() => new Pike.Reactor.Linux.IoUringPoller(receiveThroughRing: true),
    _ => PollerFactory.Create(args[0]),
};
var listener = new HoldingListener(poller) { RefuseWhileExhausted = args.Length == 1 };
listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"listening {((IPEndPoint)listener.LocalEndPoint!).Port}"));

var stdinWatcher = new Thread(() =>
{
    while (Console.In.ReadLine() is not null)
    {
    }

    poller.Stop();
}) { IsBackground = true };
stdinWatcher.Start();

while (stdinWatcher.IsAlive)
{
    poller.Loop(TimeSpan.FromSeconds(1));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stopped refused={listener.RefusedConnections}"));
return 0;

internal sealed class HoldingListener(BasePoller poller) : Listener(poller)
{
    protected override void HandleAccept(Socket accepted) => new EchoingClient(Poller).SetSocket(accepted);

    protected override void HandleResourcesExhausted(SocketException error) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"exhausted {error.SocketErrorCode} {error.NativeErrorCode}"));

    protected override void HandleResourcesRecovered() =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recovered refused={RefusedConnections}"));
}

internal sealed class EchoingClient(BasePoller poller) : Transport(poller)
{
    private readonly byte[] _buffer = new byte[256];

    protected override void HandleRead()
    {
        int received = Recv(_buffer);
        if (received > 0)
        {
            Send(_buffer.AsSpan(0, received));
        }
    }
}
