using System;
using System.Globalization;
using System.Net;

namespace Pike.Reactor.RespServer;

/// <summary>The command line: <c>--port N --bind ADDR --poller NAME --loops N --maxclients N --max-output-bytes N --spin-us N --wake-batching-us N --ring-receives --stats --demo</c>.</summary>
internal sealed class ServerOptions
{
    public int Port { get; private set; }

    public IPAddress Bind { get; private set; } = IPAddress.Loopback;

    public string? Poller { get; private set; }

    public int MaxOutputBytes { get; private set; } = Server.RespServerHost.DefaultMaxOutputBytes;

    /// <summary>Clients served at once; the next is answered <c>-ERR max number of clients reached</c> and closed, as by redis-server.</summary>
    public int MaxClients { get; private set; } = Server.RespServerHost.DefaultMaxClients;

    /// <summary>
    /// How long the loop keeps polling without blocking after its last event (0, the default:
    /// block at once). Opt-in: spinning wins only while a core is free for it, and loses when
    /// the machine is shared (docs/resp-server.md).
    /// </summary>
    public int SpinMicroseconds { get; private set; } = DefaultSpinMicroseconds;

    public const int DefaultSpinMicroseconds = 0;

    /// <summary>
    /// io_uring's wake batching window (0, the default: off): a wait may hold completions back
    /// up to this long to gather as many as the last wait returned (IoUringPoller.WakeBatching).
    /// Opt-in: it trades up to this much latency per event for fewer wake-ups under load.
    /// </summary>
    public int WakeBatchingMicroseconds { get; private set; }

    /// <summary>
    /// io_uring's receives through the ring (off by default): a client's bytes come with the
    /// loop's wait into a buffer of the ring, and Recv copies them, without a receive call
    /// (IoUringPoller.ReceivesThroughRing).
    /// </summary>
    public bool RingReceives { get; private set; }

    /// <summary>
    /// Loops (threads, pollers) serving clients: 1, the default, is one loop as redis-server;
    /// more share the port (SO_REUSEPORT, Linux and FreeBSD) and one store, each command under
    /// the store's lock (docs/resp-server.md says why it is not sharded).
    /// </summary>
    public int Loops { get; private set; } = 1;

    public const int MaxLoops = 64;

    public bool Stats { get; private set; }

    public bool Demo { get; private set; }

    public bool Help { get; private set; }

    public const string Usage =
        """
        Pike.Reactor RESP server: an in-memory Redis-protocol server on Pike.Reactor loops (one by default).
        usage: Pike.Reactor.RespServer [--port N] [--bind ADDR] [--poller NAME] [--loops N] [--maxclients N] [--max-output-bytes N] [--spin-us N] [--wake-batching-us N] [--ring-receives] [--stats] [--demo]
          --port N              port to listen on (0 or absent: a free port, printed)
          --bind ADDR           address to listen on (default 127.0.0.1)
          --poller NAME         epoll, io_uring, poll, select, ... (default: the best for this OS)
          --loops N             loops (threads) serving clients, sharing the port and one store (default 1; N > 1 on Linux and FreeBSD,
                                not with --spin-us or --demo)
          --maxclients N        clients served at once; more are refused with an error, as by redis-server (default 10000,
                                lowered at start to what the descriptor limit allows)
          --max-output-bytes N  unsent output a client may accumulate before it is dropped (default 64 MiB)
          --spin-us N           keep polling without blocking for N microseconds after the last event before sleeping (default 0: never)
          --wake-batching-us N  with --poller io_uring: let a wait hold completions back up to N microseconds (1 to 10000)
          --ring-receives       with --poller io_uring: receive clients' bytes with the wait, into the ring's buffers
                                to gather as many as the last wait returned (default 0: off); needs Linux 6.12
          --stats               print the server's counters when it stops
          --demo                start on a free loopback port, run a few commands through a client on the same loop, print them, exit
        """;

    public static ServerOptions Parse(string[] args)
    {
        var options = new ServerOptions();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--port":
                    options.Port = Number(args, ref i);
                    if (options.Port > 65535)
                    {
                        throw new FormatException("--port takes 0 to 65535.");
                    }

                    break;
                case "--bind":
                    string address = Value(args, ref i);
                    options.Bind = IPAddress.TryParse(address, out IPAddress? bind) ? bind : throw new FormatException($"--bind takes an IP address, not '{address}'.");
                    break;
                case "--poller":
                    options.Poller = Value(args, ref i);
                    break;
                case "--maxclients":
                    options.MaxClients = Number(args, ref i);
                    if (options.MaxClients < 1)
                    {
                        throw new FormatException("--maxclients takes 1 or more.");
                    }

                    break;
                case "--max-output-bytes":
                    options.MaxOutputBytes = Number(args, ref i);
                    if (options.MaxOutputBytes < 1)
                    {
                        throw new FormatException("--max-output-bytes takes 1 or more.");
                    }

                    break;
                case "--spin-us":
                    options.SpinMicroseconds = Number(args, ref i);
                    break;
                case "--wake-batching-us":
                    options.WakeBatchingMicroseconds = Number(args, ref i);
                    if (options.WakeBatchingMicroseconds is < 1 or > 10_000)
                    {
                        throw new FormatException("--wake-batching-us takes 1 to 10000.");
                    }

                    break;
                case "--ring-receives":
                    options.RingReceives = true;
                    break;
                case "--loops":
                    options.Loops = Number(args, ref i);
                    if (options.Loops is < 1 or > MaxLoops)
                    {
                        throw new FormatException($"--loops takes 1 to {MaxLoops}.");
                    }

                    break;
                case "--stats":
                    options.Stats = true;
                    break;
                case "--demo":
                    options.Demo = true;
                    break;
                case "-h" or "--help":
                    options.Help = true;
                    break;
                default:
                    throw new FormatException($"Unknown option '{args[i]}'.");
            }
        }

        if (options.Loops > 1 && options.SpinMicroseconds > 0)
        {
            throw new FormatException("--spin-us is for one loop: N spinning loops would keep N cores busy.");
        }

        if (options.WakeBatchingMicroseconds > 0 && !string.Equals(options.Poller, "io_uring", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("--wake-batching-us is an io_uring option: give --poller io_uring with it.");
        }

        if (options.RingReceives && !string.Equals(options.Poller, "io_uring", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("--ring-receives is an io_uring option: give --poller io_uring with it.");
        }

        if (options.Loops > 1 && options.Demo)
        {
            throw new FormatException("--demo runs on one loop.");
        }

        return options;
    }

    private static int Number(string[] args, ref int i)
    {
        string text = Value(args, ref i);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"{args[i - 1]} takes a whole number, not '{text}'.");
    }

    private static string Value(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new FormatException($"{args[i - 1]} needs a value.");
}
