using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Pike.Reactor.UdpBench;

/// <summary>
/// The load: <c>flows</c> connected datagram transports on one Pike.Reactor loop of its own
/// thread, each keeping <c>window</c> datagrams of 64 bytes in flight and sending one more for
/// each echo. A flow that heard nothing for a tick (a datagram lost when a queue overflowed)
/// opens its window again, so that a loss costs a tick, not the run.
/// </summary>
internal sealed class LoadClient : IDisposable
{
    private readonly BasePoller _poller;
    private readonly List<Flow> _flows = new();
    private readonly Thread _thread;
    private long _echoes;

    public LoadClient(IPEndPoint server, int flows, int window)
    {
        _poller = PollerFactory.Create();
        for (int i = 0; i < flows; i++)
        {
            _flows.Add(new Flow(this, server, window));
        }

        _poller.CallLater(TimeSpan.FromMilliseconds(50), Tick);
        _thread = new Thread(() => _poller.Loop()) { Name = "udp-load", IsBackground = true };
        _thread.Start();
    }

    private long _refills;

    /// <summary>
    /// Flows refilled after a tick with no echo (their datagrams taken for lost): each may have
    /// put up to a window more in flight, if the old ones were only late. Zero in a clean run.
    /// </summary>
    public long Refills => Interlocked.Read(ref _refills);

    /// <summary>Echoes received so far (read from any thread).</summary>
    public long Echoes => Interlocked.Read(ref _echoes);

    public void Dispose()
    {
        _poller.Post(() =>
        {
            foreach (Flow flow in _flows)
            {
                flow.Close();
            }

            _poller.Stop();
        });
        _thread.Join();
        _poller.Dispose();
    }

    private void Tick()
    {
        foreach (Flow flow in _flows)
        {
            flow.Tick();
        }

        _poller.CallLater(TimeSpan.FromMilliseconds(50), Tick);
    }

    private sealed class Flow : DatagramTransport
    {
        private readonly LoadClient _owner;
        private readonly int _window;
        private readonly byte[] _payload = new byte[64];
        private readonly DatagramBatch _batch = new(32, 128);
        private int _inFlight;
        private bool _heard;

        public Flow(LoadClient owner, IPEndPoint server, int window)
            : base(owner._poller)
        {
            _owner = owner;
            _window = window;
            CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram);
            Connect(server);
        }

        public void Tick()
        {
            if (!_heard && Connected)
            {
                Interlocked.Increment(ref _owner._refills);
                _inFlight = 0;
                Fill();
            }

            _heard = false;
        }

        protected override void HandleConnect() => Fill();

        protected override void HandleWrite() => Fill();

        protected override void HandleRead()
        {
            int count;
            int total = 0;
            while ((count = ReceiveBatch(_batch)) > 0)
            {
                total += count;
            }

            if (total > 0)
            {
                _heard = true;
                _inFlight = Math.Max(0, _inFlight - total);
                Interlocked.Add(ref _owner._echoes, total);
                Fill();
            }
        }

        protected override void HandleError(Exception error) =>
            Console.Error.WriteLine($"udp-bench: a flow failed: {error.Message}");

        private void Fill()
        {
            while (_inFlight < _window && TrySend(_payload))
            {
                _inFlight++;
            }
        }
    }
}

/// <summary>Asks a server for its counters over a plain blocking socket.</summary>
internal sealed class ControlChannel : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly byte[] _buffer = new byte[64];

    public ControlChannel(IPEndPoint server)
    {
        _socket.ReceiveTimeout = 500;
        _socket.Connect(server);
    }

    public void Mark() => Ask(Control.Mark);

    public (long Datagrams, long Allocated, TimeSpan Cpu) Report()
    {
        Ask(Control.Report);
        return (BinaryPrimitives.ReadInt64LittleEndian(_buffer.AsSpan(2)), BinaryPrimitives.ReadInt64LittleEndian(_buffer.AsSpan(10)), TimeSpan.FromTicks(BinaryPrimitives.ReadInt64LittleEndian(_buffer.AsSpan(18))));
    }

    public void Dispose() => _socket.Dispose();

    private void Ask(byte what)
    {
        // The request or its answer may be dropped by a full queue: ask again.
        for (int attempt = 0; attempt < 40; attempt++)
        {
            _socket.Send([Control.Tag, what]);
            try
            {
                while (true)
                {
                    int length = _socket.Receive(_buffer);
                    if (length >= 2 && _buffer[0] == Control.Tag && _buffer[1] == what)
                    {
                        return;
                    }
                }
            }
            catch (SocketException error) when (error.SocketErrorCode == SocketError.TimedOut)
            {
            }
        }

        throw new TimeoutException("the server did not answer a control datagram");
    }
}
