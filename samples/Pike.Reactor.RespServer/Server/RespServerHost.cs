using System;
using System.Diagnostics;
using System.Threading;
using System.IO;
using System.Net;
using Pike.Reactor.RespServer.Commands;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// The server: one poller, one listener, the store and the command processor. Everything runs
/// on the thread that calls <see cref="Run"/>; <see cref="Stop"/> may be called from any thread.
/// </summary>
internal sealed class RespServerHost : IDisposable
{
    /// <summary>The default limit of a client's unsent output before it is dropped.</summary>
    public const int DefaultMaxOutputBytes = 64 * 1024 * 1024;

    /// <summary>The default limit of clients served at once (Redis's maxclients).</summary>
    public const int DefaultMaxClients = 10_000;

    private readonly RespListener _listener;
    private readonly TextWriter? _log;

    public RespServerHost(BasePoller poller, int maxOutputBytes = DefaultMaxOutputBytes, TextWriter? log = null, int maxClients = DefaultMaxClients)
        : this(poller, new SharedServerState(), maxOutputBytes, log, maxClients)
    {
    }

    /// <summary>A host for one loop of several: <paramref name="shared"/> (the store, its lock, the large-argument budget, client ids) is the server's.</summary>
    public RespServerHost(BasePoller poller, SharedServerState shared, int maxOutputBytes = DefaultMaxOutputBytes, TextWriter? log = null, int maxClients = DefaultMaxClients, int loop = 0)
    {
        ArgumentNullException.ThrowIfNull(shared);
        ArgumentNullException.ThrowIfNull(poller);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxOutputBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxClients);
        Poller = poller;
        MaxOutputBytes = maxOutputBytes;
        MaxClients = maxClients;
        _log = log;

        // Every command runs on the loop thread, so the loop thread's own counter is the
        // server's allocation: nothing else (test threads, the JIT) is counted.
        Stats = new ServerStats(GC.GetAllocatedBytesForCurrentThread);
        Shared = shared;
        Processor = new CommandProcessor(shared.Store, Stats, poller.Name, () => Port) { Gate = shared.Gate, Loop = loop };
        _listener = new RespListener(this);
    }

    public BasePoller Poller { get; }

    /// <summary>The loop thread's input buffer, lent to each client for its read (see <see cref="ClientInput"/>).</summary>
    internal byte[] SharedInput { get; } = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);

    /// <summary>The loop thread's output buffer, lent to each client for its batch of replies (see <see cref="Protocol.ReplyBuffer"/>).</summary>
    internal byte[] SharedOutput { get; } = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);

    public ServerStats Stats { get; }

    /// <summary>What this loop shares with the server's other loops.</summary>
    internal SharedServerState Shared { get; }

    /// <summary>The bytes large arguments may announce ahead of their arrival, for every client of the server together.</summary>
    internal LargeArgumentBudget LargeArguments => Shared.LargeArguments;

    public CommandProcessor Processor { get; }

    public int MaxOutputBytes { get; }

    /// <summary>Clients served at once; one more is answered with an error and closed.</summary>
    public int MaxClients { get; }

    /// <summary>
    /// The port this loop's listener is bound to (0 before it listens), read from the listener
    /// itself the first time: a client that a loop accepts before the server announces its port
    /// sees the port in INFO already. Read on the loop's thread (INFO), or after <see cref="Listen"/>.
    /// </summary>
    public int Port
    {
        get
        {
            if (_port == 0 && !_listener.IsClosed)
            {
                try
                {
                    _port = _listener.LocalEndPoint is IPEndPoint bound ? bound.Port : 0;
                }
                catch (ObjectDisposedException)
                {
                    // closed meanwhile (a read from another thread): no port to give
                }
            }

            return _port;
        }
    }

    private int _port;

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>The listener, for a group that listens on every loop (it is not listening until then).</summary>
    internal Listener Listener => _listener;

    /// <summary>Listens on <paramref name="endpoint"/> (port 0: one the system picks; see <see cref="Port"/>).</summary>
    public IPEndPoint Listen(IPEndPoint endpoint)
    {
        _listener.Listen(endpoint);
        _port = EndPoint.Port;
        return EndPoint;
    }

    /// <summary>Readiness events handled so far (reads and accepts); <see cref="Run"/> watches it to tell busy from idle.</summary>
    internal long Events { get; set; }

    /// <summary>
    /// Runs the loop until <see cref="Stop"/>. With a <paramref name="spin"/> time, the loop
    /// polls without blocking for that long after its last event before it sleeps in the
    /// kernel again, so that a busy server is rarely woken (each wake-up costs the clients'
    /// side of the loopback a scheduler round trip).
    /// </summary>
    public void Run(TimeSpan spin = default)
    {
        if (spin <= TimeSpan.Zero)
        {
            Poller.Loop();
            return;
        }

        long spinTicks = (long)(spin.TotalSeconds * Stopwatch.Frequency);
        long lastWork = Stopwatch.GetTimestamp();
        bool busy = true;
        int idlePolls = 0;
        while (!_stopping)
        {
            long before = Events;
            Poller.Poll(busy ? TimeSpan.Zero : Timeout.InfiniteTimeSpan);
            if (Events != before)
            {
                busy = true;
                idlePolls = 0;
                lastWork = 0; // read the clock lazily: only once the loop has gone idle
            }
            else if ((++idlePolls & 7) == 0 || !busy)
            {
                // The clock is read every eighth empty poll: on this VM a clock read cost as
                // much as a fifth of an empty poll.
                long now = Stopwatch.GetTimestamp();
                if (lastWork == 0 || !busy)
                {
                    lastWork = now;
                }

                busy = now - lastWork < spinTicks;
            }
        }
    }

    /// <summary>Ends <see cref="Run"/> after the current iteration. Thread-safe.</summary>
    public void Stop()
    {
        _stopping = true;
        Poller.Stop();
    }

    private volatile bool _stopping;

    public void Log(string message) => _log?.WriteLine(message);

    /// <summary>Closes the listener and every client (call after <see cref="Run"/> returned).</summary>
    public void Dispose()
    {
        _listener.Dispose();
        Poller.Dispose();
    }
}
