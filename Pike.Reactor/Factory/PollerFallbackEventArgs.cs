using System;
using System.Collections.Generic;

namespace Pike.Reactor;

/// <summary>
/// What <see cref="PollerFactory.Fallback"/> tells: <see cref="PollerFactory.Create()"/> gave a
/// poller other than this OS's first choice, and why each better one was not used.
/// </summary>
public sealed class PollerFallbackEventArgs : EventArgs
{
    /// <summary>Creates the notice for <paramref name="poller"/>, chosen after <paramref name="skipped"/>.</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public PollerFallbackEventArgs(string poller, IReadOnlyList<PollerAvailability> skipped)
    {
        ArgumentNullException.ThrowIfNull(poller);
        ArgumentNullException.ThrowIfNull(skipped);
        Poller = poller;
        Skipped = skipped;
    }

    /// <summary>The name of the poller that was created instead ("select" when no platform assembly is deployed).</summary>
    public string Poller { get; }

    /// <summary>The pollers preferred on this OS that were not used, in order, each with its reason.</summary>
    public IReadOnlyList<PollerAvailability> Skipped { get; }

    /// <summary>One line for a log: which poller, and why not the better ones.</summary>
    public string Reason => $"using the {Poller} poller: " + string.Join("; ", FormatSkipped());

    private IEnumerable<string> FormatSkipped()
    {
        foreach (PollerAvailability skipped in Skipped)
        {
            yield return $"{skipped.Name} is unavailable ({skipped.Reason})";
        }
    }
}
