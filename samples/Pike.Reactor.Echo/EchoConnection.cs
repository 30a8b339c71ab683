using System;
using Pike.Reactor;

namespace Pike.Reactor.Samples.Echo;

/// <summary>
/// Sends back what it reads. <see cref="Transport.Write(ReadOnlySpan{byte})"/> queues what the
/// socket does not take and sends it when it can; a peer that sends faster than it reads makes
/// the queue reach its high watermark, and reading stops until the queue has drained to the low
/// watermark, so a connection holds about 64 KiB at most whatever the peer does.
/// </summary>
internal sealed class EchoConnection : Transport
{
    private readonly byte[] _buffer = new byte[16 * 1024];

    public EchoConnection(BasePoller poller, Action closed)
        : base(poller)
    {
        Closed += (_, reason) =>
        {
            Console.WriteLine($"server: {Address?.ToString() ?? "a client"} closed ({reason})");
            closed();
        };
    }

    protected override void HandleRead()
    {
        int read = Recv(_buffer); // 0: spurious readiness, nothing there after all
        Write(_buffer.AsSpan(0, read));
    }

    protected override void HandleWritabilityChanged()
    {
        if (IsWritable)
        {
            ResumeReading();
        }
        else
        {
            PauseReading();
        }
    }

    protected override void HandleClose(CloseReason reason)
    {
        if (reason == Pike.Reactor.CloseReason.EndOfStream)
        {
            // The peer sent its last byte: echo what is still queued, then close.
            CloseAfterFlush(TimeSpan.FromSeconds(10));
        }
        else
        {
            Close();
        }
    }
}
