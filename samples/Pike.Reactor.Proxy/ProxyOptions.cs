using System;
using System.Globalization;
using System.Net;

namespace Pike.Reactor.Samples.Proxy;

/// <summary>The command line: where to listen, where to forward, and the limits.</summary>
internal sealed record ProxyOptions
{
    public const string Usage =
        "usage: Pike.Reactor.Proxy [--listen HOST:PORT] [--upstream HOST:PORT] [--connect-timeout SECONDS]\n" +
        "                          [--idle-timeout SECONDS] [--max-clients N] [--poller NAME]\n" +
        "  --listen           where clients connect (default 127.0.0.1:6380; port 0: any free port)\n" +
        "  --upstream         where each client's bytes go (default 127.0.0.1:6379); a host name is resolved per connection, off the loop\n" +
        "  --connect-timeout  give up on the upstream after this long and close the client (default 5)\n" +
        "  --idle-timeout     close a pair when neither side read or wrote for this long (default 0: never)\n" +
        "  --max-clients      clients served at once; more are accepted and closed at once (default 1024)\n" +
        "  --poller           epoll, poll, select, kqueue, iocp, wsapoll (default: the best this OS has)";

    public EndPoint Listen { get; init; } = new IPEndPoint(IPAddress.Loopback, 6380);

    public EndPoint Upstream { get; init; } = new IPEndPoint(IPAddress.Loopback, 6379);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan? IdleTimeout { get; init; }

    public int MaxClients { get; init; } = 1024;

    public string? Poller { get; init; }

    public bool Help { get; init; }

    /// <exception cref="FormatException">An unknown option or a bad value.</exception>
    public static ProxyOptions Parse(string[] args)
    {
        var options = new ProxyOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help")
            {
                options = options with { Help = true };
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new FormatException($"{name} needs a value");
            }

            string value = args[++i];
            options = name switch
            {
                "--listen" => options with { Listen = ParseEndPoint(value) },
                "--upstream" => options with { Upstream = ParseEndPoint(value) },
                "--connect-timeout" => options with { ConnectTimeout = Seconds(value, name) ?? throw new FormatException("--connect-timeout must be positive") },
                "--idle-timeout" => options with { IdleTimeout = Seconds(value, name) },
                "--max-clients" => options with { MaxClients = PositiveInt(value, name) },
                "--poller" => options with { Poller = value },
                _ => throw new FormatException($"unknown option {name}"),
            };
        }

        return options;
    }

    /// <summary>HOST:PORT, [V6]:PORT; a host that is not an address stays a name (resolved when connecting).</summary>
    public static EndPoint ParseEndPoint(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
        {
            throw new FormatException($"'{text}' is not HOST:PORT");
        }

        string host = text[..colon].Trim('[', ']');
        return IPAddress.TryParse(host, out IPAddress? address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
    }

    private static TimeSpan? Seconds(string value, string name)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || seconds < 0 || double.IsNaN(seconds))
        {
            throw new FormatException($"{name} takes seconds, not '{value}'");
        }

        return seconds == 0 ? null : TimeSpan.FromSeconds(seconds);
    }

    private static int PositiveInt(string value, string name) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new FormatException($"{name} takes a positive number, not '{value}'");
}
