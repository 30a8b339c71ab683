using System;
using System.Threading;

namespace Pike.Reactor.RespServer.Storage;

/// <summary>
/// Bounds the bytes that large arguments announce before they arrive. A large argument is
/// received into an array of its declared length at once while the server-wide total stays
/// within <see cref="Limit"/>: uninitialized, that array costs memory only as bytes arrive. Past
/// the limit (many clients announcing hundreds of megabytes each), an argument's array starts
/// small and doubles toward its length as its bytes come, so headers alone cannot claim the
/// process's address space (docs/resp-server.md, "Big requests and memory").
/// </summary>
/// <remarks>Thread-safe: the async baseline's clients share one.</remarks>
internal sealed class LargeArgumentBudget(long limit = LargeArgumentBudget.DefaultLimit)
{
    /// <summary>The default: a few of Redis's largest arguments (512 MiB) at once.</summary>
    public const long DefaultLimit = 2L * 1024 * 1024 * 1024;

    private long _reserved;

    /// <summary>The process-wide budget of clients given none of their own.</summary>
    public static LargeArgumentBudget Shared { get; } = new();

    public long Limit => limit;

    /// <summary>Announced bytes reserved now.</summary>
    public long Reserved => Interlocked.Read(ref _reserved);

    /// <summary>Reserves <paramref name="length"/> bytes if the total stays within the limit.</summary>
    public bool TryReserve(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long now = Interlocked.Add(ref _reserved, length);
        if (now <= limit)
        {
            return true;
        }

        Interlocked.Add(ref _reserved, -length);
        return false;
    }

    /// <summary>Gives back what <see cref="TryReserve"/> took: the argument arrived whole, or its client left.</summary>
    public void Return(long length) => Interlocked.Add(ref _reserved, -length);
}
