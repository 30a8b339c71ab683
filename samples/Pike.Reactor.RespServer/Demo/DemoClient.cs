using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Pike.Reactor.RespServer.Protocol;

namespace Pike.Reactor.RespServer.Demo;

/// <summary>
/// A client on the server's own loop: sends each command as a multibulk request, waits for its
/// reply, prints both, and stops the loop after the last. It shows the reactor on both ends of
/// a real TCP connection without a second thread.
/// </summary>
internal sealed class DemoClient(BasePoller poller, IReadOnlyList<string[]> commands, TextWriter output) : Transport(poller)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _filled;
    private int _next;

    /// <summary>True once every command got its reply.</summary>
    public bool Finished { get; private set; }

    protected override void HandleConnect() => SendNext();

    protected override void HandleRead()
    {
        int received = Recv(_buffer.AsSpan(_filled));
        _filled += received;
        while (ReplyReader.TryMeasure(_buffer.AsSpan(0, _filled), out int length))
        {
            output.WriteLine(ReplyReader.Format(_buffer.AsSpan(0, length)));
            _buffer.AsSpan(length, _filled - length).CopyTo(_buffer);
            _filled -= length;
            SendNext();
        }
    }

    protected override void HandleClose()
    {
        Close();
        Poller.Stop();
    }

    protected override void HandleError(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        output.WriteLine($"demo client failed: {error.Message}");
        Close();
        Poller.Stop();
    }

    private void SendNext()
    {
        if (_next == commands.Count)
        {
            Finished = true;
            Close();
            Poller.Stop();
            return;
        }

        string[] command = commands[_next++];
        output.WriteLine("> " + string.Join(' ', command));
        var request = new StringBuilder();
        request.Append('*').Append(command.Length).Append("\r\n");
        foreach (string arg in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        // Requests are small: a loopback socket's send buffer takes each whole.
        byte[] bytes = Encoding.UTF8.GetBytes(request.ToString());
        if (Send(bytes) != bytes.Length)
        {
            throw new IOException("the demo request did not fit the socket's send buffer");
        }
    }
}
