using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Pike.Reactor.Linux;

/// <summary>The pollers of this assembly, for <see cref="PollerFactory"/>: epoll, then poll, and io_uring (chosen by name only; docs/io_uring.md).</summary>
public sealed class LinuxPollerProvider : PollerProvider
{
    /// <inheritdoc/>
    public override IReadOnlyList<string> Names { get; } = ["epoll", "poll", "io_uring"];

    /// <inheritdoc/>
    public override PollerAvailability Probe(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name is not ("epoll" or "poll" or "io_uring"))
        {
            return new PollerAvailability(name, false, $"Pike.Reactor.Linux has no poller called '{name}'.");
        }

        if (!OperatingSystem.IsLinux())
        {
            return new PollerAvailability(name, false, $"{name} here uses Linux's {(name == "io_uring" ? "io_uring" : "epoll")}/eventfd; this is {RuntimeInformation.OSDescription}.");
        }

        try
        {
            Create(name).Dispose();
            return new PollerAvailability(name, true, null);
        }
        catch (Exception error) when (error is NativeCallException or PollerUnavailableException or DllNotFoundException or EntryPointNotFoundException)
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
            throw new PollerUnavailableException($"{name} here uses Linux's {(name == "io_uring" ? "io_uring" : "epoll")}/eventfd; this is {RuntimeInformation.OSDescription}.");
        }

        return name switch
        {
            "epoll" => new EpollPoller(),
            "poll" => new PollPoller(),
            "io_uring" => new IoUringPoller(),
            _ => throw new PollerUnavailableException($"Pike.Reactor.Linux has no poller called '{name}'."),
        };
    }
}
