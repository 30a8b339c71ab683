using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Xunit;
using static Pike.Reactor.Tests.KqueueShim;
using static Pike.Reactor.Tests.KqueueTestKit;

namespace Pike.Reactor.Tests.Kqueue;

/// <summary>
/// The shim itself, at the kevent level, in the mode the process runs it in
/// (PIKE_KQUEUE_SHIM_MODE): where libkqueue and a BSD kernel differ it must do what the one it
/// imitates does (docs/kqueue.md lists both, with the source each comes from). Counts the
/// process's descriptors, so it runs alone.
/// </summary>
[Trait("Lane", "kqueue")]
[Trait("Needs", "kqueue-shim")]
[Collection(nameof(ProcessWideCollection))]
public partial class KqueueShimSemanticsTests
{
    private const int ENOENT = 2;
    private const int EFAULT = 14;
    private const int ECONNREFUSED = 111;

    [Fact]
    public void A_refused_connect_reports_its_errno_on_the_filter_the_mode_puts_it_on()
    {
        RequireShim();
        int kq = NewQueue();
        try
        {
            using var socket = new Socket(System.Net.Sockets.AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            try
            {
                socket.Connect(ClosedEndPoint());
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
            }

            nuint fd = (nuint)socket.Handle;
            Entry[] receipts = new Entry[2];
            Assert.Equal(2, Kevent(kq, [new(fd, EvfiltRead, EvAdd | EvReceipt), new(fd, EvfiltWrite, EvAdd | EvOneshot | EvReceipt)], receipts, 0, out _));

            Entry? read = null, write = null;
            long start = Stopwatch.GetTimestamp();
            while (read is null || write is null)
            {
                Assert.True(Stopwatch.GetElapsedTime(start) < Deadline, "timed out waiting for both kevents");
                Entry[] events = new Entry[4];
                int n = Kevent(kq, [], events, 100, out int errno);
                Assert.True(n >= 0, $"kevent failed: errno {errno}");
                foreach (Entry e in events.AsSpan(0, n))
                {
                    if (e.Filter == EvfiltRead)
                    {
                        read ??= e;
                    }
                    else if (e.Filter == EvfiltWrite)
                    {
                        write ??= e;
                    }
                }
            }

            Assert.NotEqual(0, read.Value.Flags & EvEof);
            Assert.NotEqual(0, write.Value.Flags & EvEof);
            Assert.Equal((uint)ECONNREFUSED, read.Value.Fflags);
            // libkqueue: the read kevent took SO_ERROR; a BSD kernel reports so_error on both.
            Assert.Equal(Mode == KqueueShimMode.Libkqueue ? 0u : ECONNREFUSED, write.Value.Fflags);
        }
        finally
        {
            CloseQueue(kq);
        }
    }

    [Fact]
    public void Receipts_find_room_in_the_eventlist_or_the_call_stops_there()
    {
        RequireShim();
        int kq = NewQueue();
        (Socket near, Socket far) = ConnectedPair();
        try
        {
            nuint fd = (nuint)near.Handle;

            // 513 receipts, room for 1,024: libkqueue uses 512 entries at most (MAX_KEVENT).
            var many = new Entry[513];
            Array.Fill(many, new Entry(fd, EvfiltRead, EvAdd | EvReceipt));
            int placed = Kevent(kq, many, new Entry[1024], 0, out int errno);
            if (Mode == KqueueShimMode.Libkqueue)
            {
                Assert.Equal((-1, EFAULT), (placed, errno));
            }
            else
            {
                Assert.Equal(513, placed);
            }

            // Four receipts, room for two: the third change is applied and finds no room, the
            // fourth is not applied. libkqueue: EFAULT; a BSD kernel returns 0, as if nothing had
            // been placed.
            Entry[] four =
            [
                new(fd, EvfiltRead, EvAdd | EvReceipt), new(fd, EvfiltRead, EvAdd | EvReceipt),
                new(fd, EvfiltRead, EvAdd | EvReceipt), new(fd, EvfiltWrite, EvAdd | EvReceipt),
            ];
            placed = Kevent(kq, four, new Entry[2], 0, out errno);
            Assert.Equal(Mode == KqueueShimMode.Libkqueue ? (-1, EFAULT) : (0, 0), (placed, errno));
            Entry[] receipt = new Entry[1];
            Assert.Equal(1, Kevent(kq, [new(fd, EvfiltWrite, EvDelete | EvReceipt)], receipt, 0, out _));
            Assert.Equal(ENOENT, (int)receipt[0].Data); // the write filter was never added
        }
        finally
        {
            near.Dispose();
            far.Dispose();
            CloseQueue(kq);
        }
    }

    [Fact]
    public void A_refused_change_is_returned_at_once_or_lost_with_a_wait_that_times_out()
    {
        RequireShim();
        int kq = NewQueue();
        (Socket near, Socket far) = ConnectedPair();
        try
        {
            nuint fd = (nuint)near.Handle;
            Entry[] delete = [new(fd, EvfiltRead, EvDelete, udata: 7)]; // no such knote: ENOENT

            // Room for that one entry only: no room is left to wait in, both return it.
            Entry[] one = new Entry[1];
            Assert.Equal(1, Kevent(kq, delete, one, 200, out _));
            Assert.Equal(ENOENT, (int)one[0].Data);
            Assert.Equal((nint)7, one[0].Udata);
            Assert.Equal(Mode == KqueueShimMode.Libkqueue ? EvDelete | EvError : EvError, one[0].Flags);

            // Room left and nothing ready: libkqueue waits the timeout and returns 0, the entry
            // lost; a BSD kernel returns it without waiting.
            Entry[] room = new Entry[4];
            int n = Kevent(kq, delete, room, 200, out _);
            if (Mode == KqueueShimMode.Libkqueue)
            {
                Assert.Equal(0, n);
            }
            else
            {
                Assert.Equal(1, n);
                Assert.Equal(ENOENT, (int)room[0].Data);
            }
        }
        finally
        {
            near.Dispose();
            far.Dispose();
            CloseQueue(kq);
        }
    }

    [Fact]
    public void A_closed_queue_gives_its_descriptors_back_at_once_or_when_drained()
    {
        RequireShim();
        CloseQueue(NewQueue()); // the process-wide descriptors come with the first queue
        DrainPendingClose();
        int before = OsResources.OpenHandles();

        int kq = NewQueue();
        Assert.True(OsResources.OpenHandles() > before);
        Close(kq);
        if (Mode == KqueueShimMode.Bsd)
        {
            OsResources.AssertNoLeak(before); // kqueue_close releases everything
        }

        DrainPendingClose(); // a no-op in bsd mode
        OsResources.AssertNoLeak(before);

        // Without a drain, libkqueue's monitor frees the queue later, on its own.
        Close(NewQueue());
        WaitUntil(() => OsResources.OpenHandles() <= before, "the monitor to free the closed queue");
    }

    private static int NewQueue()
    {
        int kq = KqueueShim.Kqueue(out int errno);
        Assert.True(kq >= 0, $"kqueue() failed: errno {errno}");
        return kq;
    }

    private static void CloseQueue(int kq)
    {
        Close(kq);
        DrainPendingClose();
    }

    private static void Close(int fd) => Assert.Equal(0, close(fd));

    [LibraryImport("libc.so.6")]
    private static partial int close(int fd);
}
