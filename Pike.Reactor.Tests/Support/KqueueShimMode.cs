namespace Pike.Reactor.Tests;

/// <summary>Which real kqueue the shim imitates where libkqueue and the BSD kernels differ.</summary>
public enum KqueueShimMode
{
    /// <summary>libkqueue 2.7 on Linux (the default).</summary>
    Libkqueue,

    /// <summary>A BSD kernel (FreeBSD's kern_event.c).</summary>
    Bsd,
}
