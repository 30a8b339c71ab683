using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

public class SmokeTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void Echo_round_trip(string poller)
    {
        using BasePoller p = PollerFactory.Create(poller);
        var server = new EchoListener(p);
        server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new Client(p);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(server.LocalEndPoint!);
        p.Loop(TimeSpan.FromSeconds(5), null);
        Assert.Equal("hello", client.Received.ToString());
    }

    private sealed class EchoListener(BasePoller p) : Listener(p)
    {
        protected override void HandleAccept(Socket accepted) => new Echo(Poller).SetSocket(accepted);
    }

    private sealed class Echo(BasePoller p) : Transport(p)
    {
        private readonly byte[] _buffer = new byte[4096];

        protected internal override void HandleRead()
        {
            int n = Recv(_buffer);
            Send(_buffer.AsSpan(0, n));
        }
    }

    private sealed class Client(BasePoller p) : Transport(p)
    {
        public StringBuilder Received { get; } = new();

        protected internal override void HandleConnect() => Send("hello"u8);

        protected internal override void HandleRead()
        {
            var buffer = new byte[100];
            int n = Recv(buffer);
            Received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            if (Received.Length >= 5)
            {
                Poller.Stop();
            }
        }
    }
}
