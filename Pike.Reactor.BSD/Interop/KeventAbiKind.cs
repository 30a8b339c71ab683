namespace Pike.Reactor.BSD;

/// <summary>The <c>struct kevent</c> layouts and filter numberings this assembly knows.</summary>
internal enum KeventAbiKind
{
    /// <summary>libkqueue on Linux (and other non-BSD hosts): OpenBSD's layout, FreeBSD's filter numbers.</summary>
    LibKqueue,

    /// <summary>macOS (and iOS): 32 bytes under pack(4), EVFILT_USER = -10.</summary>
    MacOS,

    /// <summary>FreeBSD 12 and later: 64 bytes with ext[4], EVFILT_USER = -11.</summary>
    FreeBsd,

    /// <summary>OpenBSD: 32 bytes, EVFILT_USER = -10 (OpenBSD 7.7 and later).</summary>
    OpenBsd,

    /// <summary>NetBSD through <c>__kevent50</c>: 40 bytes, 32-bit filter and flags, filters numbered from 0.</summary>
    NetBsd,
}
