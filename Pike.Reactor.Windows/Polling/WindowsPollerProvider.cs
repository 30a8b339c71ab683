using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary>The pollers of this assembly, for <see cref="PollerFactory"/>: iocp (AFD poll), then wsapoll.</summary>
public sealed class WindowsPollerProvider : PollerProvider
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> Names { get; } = ["iocp", "wsapoll"];

    /// <inheritdoc/>
    public override PollerAvailability Probe(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name is not ("iocp" or "wsapoll"))
        {
            return new PollerAvailability(name, false, $"Pike.Reactor.Windows has no poller called '{name}'.");
        }

        if (!OperatingSystem.IsWindows())
        {
            return new PollerAvailability(name, false, NotWindows(name));
        }

        try
        {
            Create(name).Dispose();
            return new PollerAvailability(name, true, null);
        }
        catch (Exception error) when (error is NativeCallException or DllNotFoundException or EntryPointNotFoundException or System.Net.Sockets.SocketException)
        {
            return new PollerAvailability(name, false, error.Message);
        }
    }

    /// <inheritdoc/>
    public override BasePoller Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!OperatingSystem.IsWindows())
        {
            throw new PollerUnavailableException(NotWindows(name));
        }

        return name switch
        {
            "iocp" => new IocpPoller(),
            "wsapoll" => new WsaPollPoller(),
            _ => throw new PollerUnavailableException($"Pike.Reactor.Windows has no poller called '{name}'."),
        };
    }

    private static string NotWindows(string name) =>
        $"{name} uses Windows' {(name == "iocp" ? "I/O completion ports and the AFD driver" : "WSAPoll")}; this is {RuntimeInformation.OSDescription}.";
}
