using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Pike.Reactor;

// An echo over loopback on the default poller: a listener and a client on one loop. Exits 0
// when the message came back whole on the OS's first-choice poller, 1 otherwise.
string? fallback = null;
PollerFactory.Fallback += (_, notice) => fallback = notice.Reason;

BasePoller poller = PollerFactory.Default;
byte[] message = Encoding.ASCII.GetBytes("hello from a package consumer, " + new string('x', 200_000));
using var server = new EchoServer();
server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
using var client = new EchoClient(message);
client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
client.Connect(server.LocalEndPoint!);

bool timedOut = false;
using IDisposable deadline = poller.CallLater(TimeSpan.FromSeconds(20), () =>
{
    timedOut = true;
    poller.Stop();
});
poller.Loop();

string expected = OperatingSystem.IsLinux() ? "epoll" : OperatingSystem.IsWindows() ? "iocp" : "kqueue";
Console.WriteLine($"consumer: poller {poller.Name}, echoed {client.Received} of {message.Length} bytes{(timedOut ? ", timed out" : "")}");
if (fallback is not null)
{
    Console.WriteLine($"consumer: fallback: {fallback}");
}

bool ok = !timedOut && client.Matches && poller.Name == expected && fallback is null;
Console.WriteLine(ok ? "consumer: ok" : $"consumer: FAILED (expected the {expected} poller and the whole message back)");
return ok ? 0 : 1;

sealed class EchoServer : Listener
{
    protected override void HandleAccept(Socket accepted) => new EchoConnection().SetSocket(accepted);
}

/// <summary>Sends back what it reads, keeping what the socket did not take until HandleWrite.</summary>
sealed class EchoConnection : Transport
{
    private readonly byte[] _buffer = new byte[16384];
    private int _pending;

    protected override void HandleRead()
    {
        if (_pending > 0)
        {
            PauseReading(); // the peer is not reading: stop until it takes what is pending
            return;
        }

        int n = Recv(_buffer);
        Flush(n);
    }

    protected override void HandleWrite()
    {
        Flush(_pending);
        if (_pending == 0 && ReadingPaused)
        {
            ResumeReading();
        }
    }

    private void Flush(int count)
    {
        int sent = count == 0 ? 0 : Send(_buffer.AsSpan(0, count));
        _pending = count - sent;
        if (_pending > 0)
        {
            _buffer.AsSpan(sent, _pending).CopyTo(_buffer);
        }
    }
}

sealed class EchoClient(byte[] message) : Transport
{
    private readonly byte[] _received = new byte[message.Length];
    private int _sent;

    public int Received { get; private set; }

    public bool Matches => Received == message.Length && _received.AsSpan().SequenceEqual(message);

    protected override void HandleConnect() => SendMore();

    protected override void HandleWrite() => SendMore();

    protected override void HandleRead()
    {
        Received += Recv(_received.AsSpan(Received));
        if (Received == message.Length)
        {
            Poller.Stop();
        }
    }

    private void SendMore()
    {
        if (_sent < message.Length)
        {
            _sent += Send(message.AsSpan(_sent));
        }
    }
}
