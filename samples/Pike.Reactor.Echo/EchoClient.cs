using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Pike.Reactor;

namespace Pike.Reactor.Samples.Echo;

/// <summary>Connects, sends each line, prints each echo, and closes after the last.</summary>
internal sealed class EchoClient : Transport
{
    private readonly Queue<string> _lines;
    private readonly StringBuilder _received = new();
    private readonly byte[] _buffer = new byte[4096];

    public EchoClient(BasePoller poller, EndPoint server, IEnumerable<string> lines)
        : base(poller)
    {
        _lines = new Queue<string>(lines);
        CreateSocket(server.AddressFamily, SocketType.Stream);
        Connect(server);
    }

    public int Echoed { get; private set; }

    protected override void HandleConnect()
    {
        Console.WriteLine($"client: connected to {Address}");
        SendNext();
    }

    protected override void HandleRead()
    {
        int read = Recv(_buffer);
        _received.Append(Encoding.UTF8.GetString(_buffer, 0, read));
        string text = _received.ToString();
        int end;
        while ((end = text.IndexOf('\n', StringComparison.Ordinal)) >= 0)
        {
            Console.WriteLine($"client: echoed \"{text[..end]}\"");
            Echoed++;
            text = text[(end + 1)..];
            SendNext();
        }

        _received.Clear().Append(text);
    }

    protected override void HandleError(Exception error)
    {
        Console.Error.WriteLine($"client: {error.Message}");
        Close();
    }

    private void SendNext()
    {
        if (_lines.Count == 0)
        {
            Close();
            return;
        }

        string line = _lines.Dequeue();
        Console.WriteLine($"client: sending \"{line}\"");
        Write(Encoding.UTF8.GetBytes(line + "\n")); // queued if the socket does not take it all now
    }
}
