using System;

namespace Pike.Reactor;

/// <summary>
/// Readiness kinds, used both for what a channel is watched for and for what the kernel
/// reported. Error and hang-up conditions are reported as both, so that the read or the
/// connect check that follows surfaces them.
/// </summary>
[Flags]
public enum IoEvents
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Data (or end of stream, or an error) can be read; a listener can accept.</summary>
    Read = 1,

    /// <summary>Data can be written; a connecting socket has finished connecting, or failed to.</summary>
    Write = 2,
}
