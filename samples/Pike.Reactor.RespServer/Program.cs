using System;
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

        BasePoller poller;
        try
        {
            poller = options.Poller is null ? PollerFactory.Create() : PollerFactory.Create(options.Poller);
        }
        catch (PollerUnavailableException error)
        {
            Console.Error.WriteLine(error.Message);
            return 2;
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

        using var server = new RespServerHost(poller, options.MaxOutputBytes, Console.Error, maxClients);
        if (options.Demo)
        {
            return DemoRunner.Run(server, Console.Out);
        }

        IPEndPoint bound = server.Listen(new IPEndPoint(options.Bind, options.Port));
        Console.WriteLine($"Pike.Reactor RESP server listening on {bound.Address}:{bound.Port} (poller {poller.Name})");
        Console.Out.Flush();

        // Ctrl+C and SIGTERM end the loop on its own thread; the process then exits normally.
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, StopOnSignal);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, StopOnSignal);
        server.Run(TimeSpan.FromMicroseconds(options.SpinMicroseconds));

        if (options.Stats)
        {
            Console.WriteLine(
                $"stats: commands={server.Stats.CommandsProcessed} connections={server.Stats.ConnectionsReceived} " +
                $"dropped_for_output={server.Stats.ClientsDroppedForOutput} protocol_errors={server.Stats.ProtocolErrors} " +
                $"loop_allocated_bytes={server.Stats.AllocatedBytes()}");
        }

        Console.WriteLine("stopped");
        return 0;

        void StopOnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            server.Stop();
        }
    }
}
