using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Protocol;
using Pike.Reactor.RespServer.Server;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.AsyncBaseline;

/// <summary>
/// The same RESP server written the way .NET's socket API invites: an accept loop, one async
/// method per client awaiting <c>ReceiveAsync</c>/<c>SendAsync</c> with pooled
/// <see cref="Memory{T}"/> buffers on the thread pool, and a lock around the shared store.
/// It reads, runs every complete request and writes the replies once per read, like the
/// reactor sample, so that the I/O model is the only difference.
/// </summary>
internal sealed class AsyncServer(int maxOutputBytes) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly CommandProcessor _processor = CreateProcessor();
    private long _nextId;
    private Socket? _listener;

    private static CommandProcessor CreateProcessor()
    {
        // Every thread-pool thread serves clients: the process-wide counter is the server's.
        var stats = new ServerStats(static () => GC.GetTotalAllocatedBytes(precise: true));
        return new CommandProcessor(new KeyValueStore(), stats, "async", () => 0);
    }

    public IPEndPoint Listen(IPEndPoint endpoint)
    {
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endpoint);
        _listener.Listen(511);
        return (IPEndPoint)_listener.LocalEndPoint!;
    }

    public async Task AcceptLoopAsync(CancellationToken cancel)
    {
        Socket listener = _listener ?? throw new InvalidOperationException("Listen first.");
        while (!cancel.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException error)
            {
                await Console.Error.WriteLineAsync($"accept failed: {error.Message}").ConfigureAwait(false);
                continue;
            }

            client.NoDelay = true;
            _ = ServeAsync(client, Interlocked.Increment(ref _nextId));
        }

    }

    public void Dispose() => _listener?.Dispose();

    private async Task ServeAsync(Socket socket, long id)
    {
        var input = new ClientInput();
        var reply = new ReplyBuffer();
        var session = new ClientSession(id);
        lock (_gate)
        {
            _processor.Stats.ConnectionsReceived++;
            _processor.Stats.ConnectedClients++;
        }

        bool yielded = false;
        try
        {
            while (true)
            {
                if (!yielded)
                {
                    Memory<byte> space = input.ReadSpace();
                    if (space.IsEmpty)
                    {
                        break;
                    }

                    int received = await socket.ReceiveAsync(space, SocketFlags.None).ConfigureAwait(false);
                    if (received == 0)
                    {
                        break;
                    }

                    input.Advance(received);
                }

                BatchResult result;
                lock (_gate)
                {
                    result = input.ProcessAvailable(_processor, reply, session, maxOutputBytes);
                }

                if (result == BatchResult.Drop)
                {
                    break;
                }

                while (reply.PendingCount > 0)
                {
                    int sent = await socket.SendAsync(reply.PendingMemory, SocketFlags.None).ConfigureAwait(false);
                    reply.Consume(sent);
                }

                if (result == BatchResult.CloseAfterReply)
                {
                    break;
                }

                yielded = result == BatchResult.Yield; // the rest of the pipeline, before reading more
            }
        }
        catch (SocketException)
        {
            // The client went away: nothing to report.
        }
        finally
        {
            lock (_gate)
            {
                _processor.Stats.ConnectedClients--;
            }

            socket.Dispose();
        }
    }
}
