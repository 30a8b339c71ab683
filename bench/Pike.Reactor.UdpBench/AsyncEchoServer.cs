using System;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Pike.Reactor.UdpBench;

/// <summary>The same echo with .NET's own async sockets: ReceiveFromAsync and SendToAsync with a reused SocketAddress (the allocation-free overloads), awaited in one loop.</summary>
internal static class AsyncEchoServer
{
    public static (Socket Socket, Task Loop) Start()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.ReceiveBufferSize = 1 << 20;
        return (socket, Run(socket));
    }

    private static async Task Run(Socket socket)
    {
        var counters = new Control.Counters();
        byte[] buffer = GC.AllocateArray<byte>(2048, pinned: true);
        byte[] reply = new byte[64];
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (true)
        {
            int length = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from).ConfigureAwait(false);
            if (Control.IsControl(buffer.AsSpan(0, length)))
            {
                int answer = counters.Answer(buffer.AsSpan(0, length), reply);
                await socket.SendToAsync(reply.AsMemory(0, answer), SocketFlags.None, from).ConfigureAwait(false);
                continue;
            }

            counters.Datagrams++;
            await socket.SendToAsync(buffer.AsMemory(0, length), SocketFlags.None, from).ConfigureAwait(false);
        }
    }
}
