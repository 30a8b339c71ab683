using System;
using System.Collections.Generic;
using System.IO;

namespace Pike.Reactor.Tests;

/// <summary>A transport that records what the poller calls and runs optional hooks; errors are recorded, not rethrown.</summary>
internal sealed class RecordingTransport(BasePoller poller) : Transport(poller)
{
    public List<string> Calls { get; } = [];

    public int Connects { get; private set; }

    public int Reads { get; private set; }

    public int Writes { get; private set; }

    public int Closes { get; private set; }

    public Exception? Error { get; private set; }

    public bool SawEndOfStream { get; private set; }

    public int Received { get; private set; }

    public Action<RecordingTransport>? OnRead { get; set; }

    public Action<RecordingTransport>? OnWrite { get; set; }

    public Action<RecordingTransport>? OnConnect { get; set; }

    /// <summary>Reads what is there, counting it; at the end of stream records it and pauses reading.</summary>
    public void Drain()
    {
        Span<byte> buffer = stackalloc byte[65536];
        try
        {
            int n;
            while ((n = Recv(buffer)) > 0)
            {
                Received += n;
            }
        }
        catch (EndOfStreamException)
        {
            SawEndOfStream = true;
            PauseReading();
        }
    }

    protected internal override void HandleConnect()
    {
        Connects++;
        Calls.Add("connect");
        OnConnect?.Invoke(this);
    }

    protected internal override void HandleRead()
    {
        Reads++;
        Calls.Add("read");
        if (OnRead is null)
        {
            Drain();
        }
        else
        {
            OnRead(this);
        }
    }

    protected internal override void HandleWrite()
    {
        Writes++;
        Calls.Add("write");
        OnWrite?.Invoke(this);
    }

    protected internal override void HandleClose()
    {
        Closes++;
        Calls.Add("close");
        Close();
    }

    protected internal override void HandleError(Exception error)
    {
        Error = error;
        Calls.Add("error");
        Close();
    }
}
