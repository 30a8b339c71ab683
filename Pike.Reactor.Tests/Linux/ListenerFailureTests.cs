using System;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Linux;

/// <summary>
/// A listener whose accept keeps failing for a reason of its own, and whose owner keeps it
/// open, must not spin: on Linux a listening socket that was shut down stays readable and
/// every accept fails with EINVAL.
/// </summary>
[Trait("Lane", "linux")]
public class ListenerFailureTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_failing_listener_kept_open_by_its_owner_backs_off_instead_of_spinning(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using var listener = new KeptListener(poller);
        listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Socket!.Shutdown(SocketShutdown.Both);

        Wait.Until(poller, () => listener.Errors > 0, "the first accept failure");
        TimeSpan cpuBefore = OsResources.ThreadCpuTime();
        int errorsBefore = listener.Errors;
        poller.Loop(TimeSpan.FromMilliseconds(500));
        TimeSpan cpu = OsResources.ThreadCpuTime() - cpuBefore;

        // Retries after 10, 20, 40 ... ms: a handful in half a second, not one per iteration.
        Assert.InRange(listener.Errors - errorsBefore, 1, 10);
        Assert.True(cpu < TimeSpan.FromMilliseconds(150), $"{cpu.TotalMilliseconds} ms of CPU in 500 ms");
        Assert.IsType<SocketException>(listener.LastError);
        Assert.False(listener.IsClosed);
        Assert.False(listener.ResourcesExhausted);
    }

    private sealed class KeptListener(BasePoller poller) : Listener(poller)
    {
        public int Errors { get; private set; }

        public Exception? LastError { get; private set; }

        protected override void HandleAccept(Socket accepted) => accepted.Dispose();

        protected internal override void HandleError(Exception error)
        {
            Errors++;
            LastError = error;
        }
    }
}
