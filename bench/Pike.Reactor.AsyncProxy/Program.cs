using System;
using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

// The TCP proxy a .NET developer writes with the async/await Socket API, for the benchmark
// against samples/Pike.Reactor.Proxy: an accept loop, and per client two pumps (client to
// upstream, upstream to client), each awaiting ReceiveAsync then SendAsync of what it read
// with a pooled 64 KiB buffer (back-pressure comes from awaiting the send). The end of one
// input shuts down the other side's send; the pair closes when both pumps are done.
// Usage: Pike.Reactor.AsyncProxy --listen HOST:PORT --upstream HOST:PORT
IPEndPoint listen = new(IPAddress.Loopback, 6380);
IPEndPoint upstream = new(IPAddress.Loopback, 6379);
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--listen": listen = IPEndPoint.Parse(args[i + 1]); break;
        case "--upstream": upstream = IPEndPoint.Parse(args[i + 1]); break;
        default:
            Console.Error.WriteLine("usage: Pike.Reactor.AsyncProxy --listen HOST:PORT --upstream HOST:PORT");
            return 2;
    }
}

using var listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
listener.Bind(listen);
listener.Listen(511);
Console.WriteLine($"async proxy: listening on {listener.LocalEndPoint}, forwarding to {upstream}");
using var stop = new CancellationTokenSource();
using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
while (!stop.IsCancellationRequested)
{
    Socket client;
    try
    {
        client = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
    }
    catch (OperationCanceledException)
    {
        break;
    }

    _ = ServeAsync(client, upstream);
}

return 0;

void Cancel(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

static async Task ServeAsync(Socket client, IPEndPoint upstream)
{
    using (client)
    using (var server = new Socket(upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
    {
        client.NoDelay = true;
        server.NoDelay = true;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await server.ConnectAsync(upstream, timeout.Token).ConfigureAwait(false);
            await Task.WhenAll(PumpAsync(client, server), PumpAsync(server, client)).ConfigureAwait(false);
        }
        catch (Exception error) when (error is SocketException or OperationCanceledException)
        {
            // a refused or timed-out upstream, or a reset: both sockets close
        }
    }
}

static async Task PumpAsync(Socket from, Socket to)
{
    byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    try
    {
        while (true)
        {
            int read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
            if (read == 0)
            {
                to.Shutdown(SocketShutdown.Send);
                return;
            }

            await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None).ConfigureAwait(false);
        }
    }
    catch (SocketException)
    {
        // a reset on one side ends both directions
        from.Dispose();
        to.Dispose();
    }
    catch (ObjectDisposedException)
    {
    }
    finally
    {
        ArrayPool<byte>.Shared.Return(buffer);
    }
}
