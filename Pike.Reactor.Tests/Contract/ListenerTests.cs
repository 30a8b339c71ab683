using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>
/// What a listener does when its owner's <see cref="Listener"/> HandleAccept fails: the accepted
/// socket is disposed (the client learns at once) and the listener goes on accepting. Running
/// out of descriptors needs a low RLIMIT_NOFILE and is tested in a child process
/// (Linux/ListenerExhaustionTests).
/// </summary>
[Trait("Lane", "contract")]
public class ListenerTests
{
    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_HandleAccept_that_throws_disposes_the_socket_and_the_listener_keeps_accepting(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using var listener = new FailingListener(poller) { FailFirst = 1 };
        listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));

        using Socket refused = Loopback.Connect(listener.LocalEndPoint!);
        Wait.Until(poller, () => listener.Failures.Count == 1, "HandleAcceptFailed for the first client");
        Assert.IsType<InvalidOperationException>(listener.Failures[0]);
        Assert.True(listener.Sockets[0].SafeHandle.IsClosed, "the socket HandleAccept threw over was left open");
        AssertConnectionEnds(refused);

        using Socket served = Loopback.Connect(listener.LocalEndPoint!);
        Wait.Until(poller, () => listener.Accepted.Count == 1, "the next client accepted");
        served.Send([42]);
        Wait.Until(poller, () => listener.Accepted[0].Reads > 0, "the next client's data read");

        Assert.False(listener.IsClosed);
        Assert.Equal(0, listener.ErrorCalls);
        Assert.Single(listener.Failures);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void By_default_a_HandleAccept_exception_leaves_the_loop_and_the_listener_stays_open(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using var listener = new FailingListener(poller) { FailFirst = 1, RecordFailures = false };
        listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));

        using Socket refused = Loopback.Connect(listener.LocalEndPoint!);
        var thrown = Assert.Throws<InvalidOperationException>(() => Wait.Until(poller, () => false, "the exception"));
        Assert.Equal("HandleAccept failed", thrown.Message);
        Assert.True(listener.Sockets[0].SafeHandle.IsClosed);
        Assert.False(listener.IsClosed);
        Assert.Equal(0, listener.ErrorCalls);

        using Socket served = Loopback.Connect(listener.LocalEndPoint!);
        Wait.Until(poller, () => listener.Accepted.Count == 1, "an accept after the exception");
        AssertConnectionEnds(refused);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_client_that_left_while_HandleAccept_used_it_is_not_a_listener_failure(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using var listener = new FailingListener(poller) { FailFirst = 1, Failure = new SocketException((int)SocketError.ConnectionReset) };
        listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));

        using Socket first = Loopback.Connect(listener.LocalEndPoint!);
        using Socket second = Loopback.Connect(listener.LocalEndPoint!);
        Wait.Until(poller, () => listener.Accepted.Count == 1, "the second client accepted");

        Assert.Empty(listener.Failures);
        Assert.Equal(0, listener.ErrorCalls);
        Assert.Equal(0, listener.CloseCalls);
        Assert.True(listener.Sockets[0].SafeHandle.IsClosed);
        Assert.False(listener.IsClosed);
    }

    [Theory]
    [MemberData(nameof(Pollers.Available), MemberType = typeof(Pollers))]
    public void A_listener_that_never_ran_out_reports_no_exhaustion(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        using var listener = new FailingListener(poller);
        listener.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                clients.Add(Loopback.Connect(listener.LocalEndPoint!));
            }

            Wait.Until(poller, () => listener.Accepted.Count == 20, "twenty accepts");
            Assert.False(listener.ResourcesExhausted);
            Assert.Equal(0, listener.RefusedConnections);
            Assert.False(listener.ReadingPaused);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    /// <summary>The peer sees its connection end (EOF, or a reset when data it sent was never read).</summary>
    private static void AssertConnectionEnds(Socket client)
    {
        client.ReceiveTimeout = (int)Wait.Deadline.TotalMilliseconds;
        var buffer = new byte[16];
        try
        {
            Assert.Equal(0, client.Receive(buffer));
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    private sealed class FailingListener(BasePoller poller) : Listener(poller)
    {
        public int FailFirst { get; set; }

        public Exception Failure { get; set; } = new InvalidOperationException("HandleAccept failed");

        public bool RecordFailures { get; set; } = true;

        public List<Socket> Sockets { get; } = new();

        public List<TestChannel> Accepted { get; } = new();

        public List<Exception> Failures { get; } = new();

        public int ErrorCalls { get; private set; }

        public int CloseCalls { get; private set; }

        protected override void HandleAccept(Socket accepted)
        {
            Sockets.Add(accepted);
            if (Sockets.Count <= FailFirst)
            {
                throw Failure;
            }

            var channel = new TestChannel(Poller);
            channel.SetSocket(accepted);
            Accepted.Add(channel);
        }

        protected override void HandleAcceptFailed(Exception error)
        {
            if (!RecordFailures)
            {
                base.HandleAcceptFailed(error);
            }

            Failures.Add(error);
        }

        protected internal override void HandleError(Exception error)
        {
            ErrorCalls++;
            base.HandleError(error);
        }

        protected internal override void HandleClose()
        {
            CloseCalls++;
            base.HandleClose();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Accepted.ForEach(c => c.Dispose());
            }

            base.Dispose(disposing);
        }
    }
}
