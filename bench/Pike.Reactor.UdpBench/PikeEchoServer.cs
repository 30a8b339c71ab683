using System;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor.UdpBench;

/// <summary>The Pike.Reactor echo: one datagram transport, the waiting datagrams taken in batches (recvmmsg on Linux) or one at a time, each sent back to its sender.</summary>
internal sealed class PikeEchoServer : DatagramTransport
{
    private readonly Control.Counters _counters = new();
    private readonly DatagramBatch? _batch;
    private readonly byte[] _buffer = new byte[2048];
    private readonly byte[] _reply = new byte[64];
    private readonly SocketAddress _from = new(AddressFamily.InterNetwork);

    public PikeEchoServer(BasePoller poller, bool batched)
        : base(poller)
    {
        _batch = batched ? new DatagramBatch(64, 2048) : null;
        Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Socket!.ReceiveBufferSize = 1 << 20;
    }

    protected override void HandleRead()
    {
        if (_batch is { } batch)
        {
            int count;
            while ((count = ReceiveBatch(batch)) > 0)
            {
                for (int i = 0; i < count; i++)
                {
                    Echo(batch.Datagram(i), batch.Address(i));
                }
            }
        }
        else
        {
            while (TryReceiveFrom(_buffer, _from, out int length))
            {
                Echo(_buffer.AsSpan(0, length), _from);
            }
        }
    }

    private void Echo(ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        if (Control.IsControl(datagram))
        {
            int length = _counters.Answer(datagram, _reply);
            TrySendTo(_reply.AsSpan(0, length), from);
            return;
        }

        _counters.Datagrams++;
        TrySendTo(datagram, from); // a datagram the socket cannot take now is dropped, as UDP servers do
    }
}
