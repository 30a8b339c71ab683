using System;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Pike.Reactor.AsyncBaseline;

/// <summary>Runs the async/await baseline: <c>--port N</c> (0 or absent: a free port, printed).</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        int port = 0;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--port" && i + 1 < args.Length)
            {
                port = int.Parse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture);
            }
            else
            {
                await Console.Error.WriteLineAsync("usage: Pike.Reactor.AsyncBaseline [--port N]").ConfigureAwait(false);
                return 2;
            }
        }

        using var server = new AsyncServer(64 * 1024 * 1024);
        IPEndPoint bound = server.Listen(new IPEndPoint(IPAddress.Loopback, port));
        Console.WriteLine($"async baseline RESP server listening on {bound.Address}:{bound.Port}");
        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        await server.AcceptLoopAsync(stop.Token).ConfigureAwait(false);
        Console.WriteLine("stopped");
        return 0;

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
