using System;
using System.Net;
using System.Runtime.InteropServices;
using Pike.Reactor;
using Pike.Reactor.Samples.Proxy;

// A TCP proxy on one Pike.Reactor loop: each client gets its own connection to the upstream,
// bytes go both ways with back-pressure and half-close, and Ctrl+C or SIGTERM stops it.
ProxyOptions options;
try
{
    options = ProxyOptions.Parse(args);
}
catch (FormatException error)
{
    Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine(ProxyOptions.Usage);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(ProxyOptions.Usage);
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

using (poller)
{
    using var listener = new ProxyListener(poller, options, Console.Error);
    if (options.Listen is DnsEndPoint name)
    {
        IPAddress[] addresses = Dns.GetHostAddresses(name.Host); // once, at start, before the loop runs
        listener.Listen(new IPEndPoint(addresses[0], name.Port));
    }
    else
    {
        listener.Listen(options.Listen);
    }

    Console.WriteLine($"proxy: listening on {listener.LocalEndPoint}, forwarding to {options.Upstream} (poller {poller.Name})");
    Console.Out.Flush();

    using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    poller.Loop();
    Console.WriteLine("proxy: stopped");
}

return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    poller.Stop();
}
