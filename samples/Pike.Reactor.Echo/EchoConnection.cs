using System;
using Pike.Reactor;

namespace Pike.Reactor.Samples.Echo;

/// <summary>Sends back what it reads; keeps what the socket would not take and sends it when it can.</summary>
internal sealed class EchoConnection(BasePoller poller, Action closed) : Transport(poller)
{
    private readonly byte[] _buffer = new byte[16 * 1024];
    private byte[] _pending = [];

    protected override void HandleRead()
    {
        int read = Recv(_buffer);
        if (read == 0)
        {
            return; // spurious readiness: nothing there after all
        }

        if (_pending.Length > 0)
        {
            _pending = [.. _pending, .. _buffer.AsSpan(0, read)];
            return;
        }

        int sent = Send(_buffer.AsSpan(0, read));
        _pending = _buffer.AsSpan(sent, read - sent).ToArray();
    }

    protected override void HandleWrite()
    {
        int sent = Send(_pending);
        _pending = _pending.AsSpan(sent).ToArray();
    }

    protected override void HandleClose()
    {
        Console.WriteLine($"server: {Address} closed");
        Close();
        closed();
    }
}
