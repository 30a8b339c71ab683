using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;

namespace Pike.Reactor.Benchmarks;

/// <summary>
/// One readable event dispatched through a poller, with many idle connections registered
/// beside the active one: the cost of Poll should not grow with the idle ones (epoll), and
/// dispatching should allocate nothing. Each operation is one byte sent by the peer, one Poll,
/// and the HandleRead that reads it.
/// </summary>
[MemoryDiagnoser]
public class PollBenchmarks
{
    private readonly List<Socket> _sockets = new();
    private readonly byte[] _one = [1];
    private BasePoller _poller = null!;
    private Socket _peer = null!;
    private Reader _active = null!;

    [Params("epoll", "io_uring", "poll", "select")]
    public string Poller { get; set; } = "epoll";

    [Params(10, 5000)]
    public int IdleConnections { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _poller = PollerFactory.Create(Poller);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1024);
        for (int i = 0; i <= IdleConnections; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.Connect(listener.LocalEndPoint!);
            Socket server = listener.Accept();
            var reader = new Reader(_poller);
            reader.SetSocket(server);
            _sockets.Add(client);
            (_peer, _active) = (client, reader);
        }
    }

    [Benchmark]
    public void PollOneReadable()
    {
        int before = _active.Reads;
        _peer.Send(_one);
        while (_active.Reads == before)
        {
            _poller.Poll(TimeSpan.FromSeconds(1));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _poller.Dispose();
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }

        _sockets.Clear();
    }

    private sealed class Reader(BasePoller poller) : Transport(poller)
    {
        private readonly byte[] _buffer = new byte[64];

        public int Reads { get; private set; }

        protected override void HandleRead()
        {
            if (Recv(_buffer) > 0)
            {
                Reads++;
            }
        }
    }
}
