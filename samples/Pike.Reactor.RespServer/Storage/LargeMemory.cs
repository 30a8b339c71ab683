using System;
using System.Threading;

namespace Pike.Reactor.RespServer.Storage;

/// <summary>
/// Gives large freed memory back to the system. A server that is idle allocates nothing, so
/// the GC, which runs only when allocation asks for it, would never collect the big values
/// and buffers it has let go of: after a 300 MB value was deleted the process would stay at
/// its peak for ever. So whoever drops a large array says so here, and once enough has been
/// dropped the loop runs one compacting collection that also releases the freed regions to
/// the operating system (<see cref="GCCollectionMode.Aggressive"/>).
/// </summary>
/// <remarks>
/// Process-wide: with <c>--loops N</c> every loop thread reports and collects here, so the
/// counts are interlocked and one collection takes what all of them let go of.
/// </remarks>
internal static class LargeMemory
{
    /// <summary>Arrays at least this long count; smaller garbage is left to the GC's own budget.</summary>
    public const int Threshold = 1024 * 1024;

    /// <summary>Freed bytes that make a collection worth its pause (a full GC of a small heap: milliseconds).</summary>
    public const long CollectAfter = 32L * 1024 * 1024;

    private static long s_released;

    private static int s_collections;

    /// <summary>Collections run so far (INFO-free: for the tests).</summary>
    public static int Collections => Volatile.Read(ref s_collections);

    private static long s_releasedTotal;

    /// <summary>
    /// A large array whose every byte the caller writes: uninitialized, so its pages are backed
    /// only once written, and on the pinned object heap, which the collections here never
    /// compact. On the large object heap an aggressive collection (the one
    /// <see cref="CollectIfDue"/> runs) compacts, and moved (or slid in place) every live large
    /// array, writing all its pages: four clients each part-way through a 500 MB value grew from
    /// 800 MB to 1.3-1.9 GB when one of them left (docs/resp-server.md, "Big requests and memory").
    /// </summary>
    public static byte[] Allocate(int length) => GC.AllocateUninitializedArray<byte>(length, pinned: true);

    /// <summary>Large bytes let go of so far, by every loop of the process (for the tests).</summary>
    public static long ReleasedTotal => Interlocked.Read(ref s_releasedTotal);

    /// <summary>An array of <paramref name="length"/> bytes is no longer referenced.</summary>
    public static void Released(long length)
    {
        if (length >= Threshold)
        {
            Interlocked.Add(ref s_released, length);
            Interlocked.Add(ref s_releasedTotal, length);
        }
    }

    /// <summary>Between turns: collects when enough large memory was let go of since the last time.</summary>
    public static void CollectIfDue()
    {
        if (Interlocked.Read(ref s_released) < CollectAfter)
        {
            return;
        }

        // One loop takes the whole amount and collects; another that looked at the same moment
        // finds less than the threshold left and goes on.
        long taken = Interlocked.Exchange(ref s_released, 0);
        if (taken < CollectAfter)
        {
            Interlocked.Add(ref s_released, taken);
            return;
        }

        Interlocked.Increment(ref s_collections);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
