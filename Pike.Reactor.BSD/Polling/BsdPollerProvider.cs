using System;
using System.Collections.Generic;

namespace Pike.Reactor.BSD;

/// <summary>
/// The poller of this assembly, for <see cref="PollerFactory"/>: kqueue, on macOS, FreeBSD,
/// OpenBSD and NetBSD from the C library, and elsewhere (Linux) from the library that
/// <see cref="LibraryVariable"/> names.
/// </summary>
public sealed class BsdPollerProvider : PollerProvider
{
    /// <summary>The environment variable naming a library with libkqueue's API, for hosts without a kqueue of their own.</summary>
    public const string LibraryVariable = "PIKE_REACTOR_KQUEUE_LIBRARY";

    /// <inheritdoc/>
    public override IReadOnlyList<string> Names { get; } = ["kqueue"];

    /// <inheritdoc/>
    public override PollerAvailability Probe(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name != "kqueue")
        {
            return new PollerAvailability(name, false, $"Pike.Reactor.BSD has no poller called '{name}'.");
        }

        if (KqueueHost.UnavailableReason() is { } reason)
        {
            return new PollerAvailability(name, false, reason);
        }

        try
        {
            Create(name).Dispose();
            return new PollerAvailability(name, true, null);
        }
        catch (Exception error) when (error is NativeCallException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or PollerUnavailableException)
        {
            return new PollerAvailability(name, false, error.Message);
        }
    }

    /// <inheritdoc/>
    public override BasePoller Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name != "kqueue")
        {
            throw new PollerUnavailableException($"Pike.Reactor.BSD has no poller called '{name}'.");
        }

        if (KqueueHost.UnavailableReason() is { } reason)
        {
            throw new PollerUnavailableException(reason);
        }

        try
        {
            return new KqueuePoller();
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new PollerUnavailableException($"kqueue could not be loaded: {error.Message}", error);
        }
    }
}
