using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

/// <summary>The pollers of this assembly, for <see cref="PollerFactory"/>: epoll, then poll.</summary>
public sealed class LinuxPollerProvider : PollerProvider
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> Names { get; } = ["epoll", "poll"];

    /// <inheritdoc/>
    public override PollerAvailability Probe(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name is not ("epoll" or "poll"))
        {
            return new PollerAvailability(name, false, $"Pike.Reactor.Linux has no poller called '{name}'.");
        }

        if (!OperatingSystem.IsLinux())
        {
            return new PollerAvailability(name, false, $"{name} here uses Linux's epoll/eventfd; this is {RuntimeInformation.OSDescription}.");
        }

        try
        {
            Create(name).Dispose();
            return new PollerAvailability(name, true, null);
        }
        catch (Exception error) when (error is NativeCallException or DllNotFoundException or EntryPointNotFoundException)
        {
            return new PollerAvailability(name, false, error.Message);
        }
    }

    /// <inheritdoc/>
    public override BasePoller Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!OperatingSystem.IsLinux())
        {
            throw new PollerUnavailableException($"{name} here uses Linux's epoll/eventfd; this is {RuntimeInformation.OSDescription}.");
        }

        return name switch
        {
            "epoll" => new EpollPoller(),
            "poll" => new PollPoller(),
            _ => throw new PollerUnavailableException($"Pike.Reactor.Linux has no poller called '{name}'."),
        };
    }
}
