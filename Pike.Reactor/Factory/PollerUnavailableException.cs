using System;

namespace Pike.Reactor;

/// <summary>A poller was asked for that cannot run here; the message says why.</summary>
public sealed class PollerUnavailableException : Exception
{
    /// <summary>Creates the exception with no message.</summary>
    public PollerUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message that says why.</summary>
    public PollerUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure behind it.</summary>
    public PollerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
