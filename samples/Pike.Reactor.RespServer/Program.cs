using System;
using System.Collections.Generic;
using System.Net;
using System.Runtime.InteropServices;
using Pike.Reactor.RespServer.Demo;
using Pike.Reactor.RespServer.Server;

namespace Pike.Reactor.RespServer;

/// <summary>Runs the server (or the demo) from the command line.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        ServerOptions options;
        try
        {
            options = ServerOptions.Parse(args);
        }
        catch (FormatException error)
        {
            Console.Error.WriteLine(error.Message);
            Console.Error.WriteLine(ServerOptions.Usage);
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(ServerOptions.Usage);
            return 0;
        }

        int maxClients = options.MaxClients;
        if (!options.Demo && DescriptorBudget.ClientsThatFit(out long limit, out int open) is { } fit && fit < maxClients)
        {
            // As redis-server does: fewer clients than asked, each refused politely, rather than
            // accept failing for want of descriptors.
            maxClients = fit;
            Console.Error.WriteLine(
                $"maxclients {options.MaxClients} needs more descriptors than the limit of {limit} allows ({open} open at start, " +
                $"{DescriptorBudget.Reserved} kept for the server): maxclients reduced to {maxClients}. Raise 'ulimit -n' for more.");
        }

        if (options.Loops > 1)
        {
            return RunLoops(options, maxClients);
        }

        BasePoller poller;
        try
        {
            poller = CreatePoller(options);
        }
        catch (PollerUnavailableException error)
        {
            Console.Error.WriteLine(error.Message);
            return 2;
        }

        using var server = new RespServerHost(poller, options.MaxOutputBytes, Console.Error, maxClients);
        if (options.Demo)
        {
            return DemoRunner.Run(server, Console.Out);
        }

        // Ctrl+C and SIGTERM end the loop on its own thread; the process then exits normally.
        // Registered before the port is announced: a signal at any moment stops it cleanly.
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, StopOnSignal);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, StopOnSignal);
        IPEndPoint bound;
        try
        {
            bound = server.Listen(new IPEndPoint(options.Bind, options.Port));
        }
        catch (System.Net.Sockets.SocketException error)
        {
            Console.Error.WriteLine($"{options.Bind}:{options.Port}: {error.Message}");
            return 2;
        }

        Console.WriteLine($"Pike.Reactor RESP server listening on {bound.Address}:{bound.Port} (poller {poller.Name})");
        Console.Out.Flush();
        server.Run(TimeSpan.FromMicroseconds(options.SpinMicroseconds));

        if (options.Stats)
        {
            PrintStats([server]);
        }

        Console.WriteLine("stopped");
        return 0;

        void StopOnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            server.Stop();
        }
    }

    /// <summary>
    /// N loops, one thread each (a <see cref="PollerGroup"/>), each with its own listener on the
    /// shared port (SO_REUSEPORT: the kernel spreads the connections) and its own clients, over
    /// one store whose commands take its lock. maxclients is split between them.
    /// </summary>
    private static int RunLoops(ServerOptions options, int maxClients)
    {
        if (options.Loops > maxClients)
        {
            Console.Error.WriteLine($"--loops {options.Loops}: more loops than the {maxClients} clients allowed.");
            return 2;
        }

        var endpoint = new IPEndPoint(options.Bind, options.Port);
        if (PortTaken(endpoint) is { } taken)
        {
            // SO_REUSEPORT would let this server join another one's port and take half its clients.
            Console.Error.WriteLine($"--loops {options.Loops}: {endpoint} is in use ({taken}).");
            return 2;
        }

        Func<BasePoller> create = () => CreatePoller(options);
        PollerGroup group;
        try
        {
            group = new PollerGroup(options.Loops, create);
        }
        catch (PollerUnavailableException error)
        {
            Console.Error.WriteLine(error.Message);
            return 2;
        }

        using var stopped = new System.Threading.ManualResetEventSlim();
        void StopOnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stopped.Set();
        }

        // Before the port is announced, and kept until every loop has ended: a signal at any
        // moment stops the server cleanly.
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, StopOnSignal);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, StopOnSignal);
        int exit = 0;
        var shared = new SharedServerState(options.Loops);
        var hosts = new List<RespServerHost>();
        try
        {
            group.Error = (poller, error) =>
            {
                Console.Error.WriteLine($"a loop ({poller.Name}) failed: {error}");
                System.Threading.Interlocked.Exchange(ref exit, 1);
                stopped.Set();
            };

            // Each host is made on its own loop's thread (the group calls this there), with an
            // even share of maxclients; the first loops take the remainder.
            try
            {
                group.ListenOnEach(endpoint, poller =>
                {
                    lock (hosts)
                    {
                        int index = hosts.Count;
                        int share = (maxClients / options.Loops) + (index < maxClients % options.Loops ? 1 : 0);
                        var host = new RespServerHost(poller, shared, options.MaxOutputBytes, Console.Error, share, index);
                        hosts.Add(host);
                        return host.Listener;
                    }
                });
            }
            catch (Exception error) when (error is PlatformNotSupportedException or System.Net.Sockets.SocketException)
            {
                Console.Error.WriteLine($"--loops {options.Loops}: {error.Message}");
                return 2;
            }

            IPEndPoint bound = hosts[0].EndPoint;
            Console.WriteLine($"Pike.Reactor RESP server listening on {bound.Address}:{bound.Port} (poller {group.Pollers[0].Name}, {options.Loops} loops)");
            Console.Out.Flush();
            stopped.Wait();
        }
        finally
        {
            try
            {
                group.Dispose(); // closes the listeners, ends every loop, closes every client, releases the pollers
            }
            catch (AggregateException error)
            {
                Console.Error.WriteLine($"stopping the loops: {error.Message}");
                exit = 1;
            }
        }

        if (options.Stats)
        {
            PrintStats(hosts);
        }

        Console.WriteLine("stopped");
        return exit;
    }

    /// <summary>The poller the options name (the factory's best when none), with io_uring's wake batching and receives through the ring when asked for.</summary>
    private static BasePoller CreatePoller(ServerOptions options)
    {
        if (options.WakeBatchingMicroseconds > 0 || options.RingReceives)
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new PollerUnavailableException("--wake-batching-us and --ring-receives need io_uring, which is Linux's.");
            }

            return new Pike.Reactor.Linux.IoUringPoller(
                wakeBatching: TimeSpan.FromMicroseconds(options.WakeBatchingMicroseconds),
                receiveThroughRing: options.RingReceives);
        }

        return options.Poller is null ? PollerFactory.Create() : PollerFactory.Create(options.Poller);
    }

    /// <summary>Why <paramref name="endpoint"/> cannot be had by a socket of its own (null: it can, or it is port 0).</summary>
    private static string? PortTaken(IPEndPoint endpoint)
    {
        if (endpoint.Port == 0)
        {
            return null;
        }

        using var probe = new System.Net.Sockets.Socket(endpoint.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            probe.Bind(endpoint);
            return null;
        }
        catch (System.Net.Sockets.SocketException error)
        {
            return error.Message;
        }
    }

    private static void PrintStats(List<RespServerHost> hosts)
    {
        long commands = 0, connections = 0, dropped = 0, errors = 0;
        foreach (RespServerHost host in hosts)
        {
            commands += host.Stats.CommandsProcessed;
            connections += host.Stats.ConnectionsReceived;
            dropped += host.Stats.ClientsDroppedForOutput;
            errors += host.Stats.ProtocolErrors;
        }

        // One loop runs on this thread, so its counter is the loop's; several ran on threads of
        // their own, which have ended: the process's total stands in for them.
        string allocatedField = hosts.Count == 1 ? $"loop_allocated_bytes={hosts[0].Stats.AllocatedBytes()}" : $"process_allocated_bytes={GC.GetTotalAllocatedBytes()}";
        Console.WriteLine(
            $"stats: commands={commands} connections={connections} dropped_for_output={dropped} protocol_errors={errors} " +
            allocatedField);
    }
}
