using System.Net.Sockets;
using System.Runtime.InteropServices;
using Pike.Reactor.BSD;
using Xunit;
using static Pike.Reactor.Tests.KqueueTestKit;

namespace Pike.Reactor.Tests.Kqueue;

/// <summary>Counts the process's descriptors, so it runs alone: no other test may open or close any meanwhile.</summary>
[Trait("Lane", "kqueue")]
[Collection(nameof(ProcessWideCollection))]
public unsafe class KqueueDisposeTests
{
    [Fact]
    public void Every_descriptor_of_the_queue_is_released_when_Dispose_returns()
    {
        // docs/pitfalls.md 19: close(2) of a libkqueue queue closes only the pipe end kqueue()
        // returned; a monitor thread frees the queue's epoll descriptor and the pipe's other end
        // some time later (the shim's libkqueue mode: 250 ms later).
        // libkqueue_drain_pending_close, which the library exports, waits for that. A disposed
        // poller has given everything back when Dispose returns, not eventually.
        Settle();
        int before = OsResources.OpenHandles();
        KqueuePoller p = NewPoller();
        (Socket near, Socket far) = ConnectedPair();
        var channel = new RecordingTransport(p);
        channel.SetSocket(near);
        far.Send("x"u8);
        PollUntil(p, () => channel.Received == 1, "the byte");
        channel.Close();
        far.Dispose();

        p.Dispose();
        OsResources.AssertNoLeak(before);
    }

    /// <summary>
    /// What a library opens once per process with its first queue (libkqueue's monitor, the shim's
    /// wake-up eventfd) must exist before counting, and the warm-up queue must be gone.
    /// </summary>
    private static void Settle()
    {
        NewPoller().Dispose();
        if (Library is not null && NativeLibrary.TryLoad(Library, out nint handle)
            && NativeLibrary.TryGetExport(handle, "libkqueue_drain_pending_close", out nint drain))
        {
            ((delegate* unmanaged<void>)drain)();
        }
    }
}
