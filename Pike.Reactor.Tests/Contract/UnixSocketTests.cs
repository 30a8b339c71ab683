using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Contract;

/// <summary>
/// Stream transports and listeners over Unix domain sockets on every poller: an 8 MiB echo
/// through a path and (Linux) an abstract name, the socket file removed on close, a stale one
/// removed on request, and nothing else ever removed.
/// </summary>
[Trait("Lane", "contract")]
public sealed class UnixSocketTests : IDisposable
{
    private string? _directory;

    public static TheoryData<string> Names => Pollers.Available;

    public void Dispose()
    {
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private const string NoUnixSockets = "this system has no AF_UNIX sockets (Wine 8 has none: docs/windows.md)";

    // Skips decided by the framework before the class is made: under Wine 8 a test that skipped
    // itself (Assert.Skip) was seen to end the process when the runner made the next instance.
    public static bool UnixSocketsSupported => Socket.OSSupportsUnixDomainSockets;

    public static bool AbstractNamesSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// A path in a directory of the test's own, made on first use (after the skip check: under
    /// Wine 8 creating and deleting it in every test's constructor and Dispose was seen to end
    /// the process with an internal CLR error). Short: macOS leaves 104 bytes for the path,
    /// and its temp directory is long.
    /// </summary>
    private string SocketPath(string name = "s.sock")
    {
        _directory ??= Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "pike-" + Guid.NewGuid().ToString("N")[..12])).FullName;
        return Path.Combine(_directory, name);
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void Echo_of_8_MiB_over_a_socket_file(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath();
        EchoThrough(poller, new UnixDomainSocketEndPoint(path), 8 << 20,
            whileListening: () => Assert.True(File.Exists(path), "the socket file is there while the listener listens"));
    }

    [Theory(Skip = "abstract socket names are Linux's", SkipUnless = nameof(AbstractNamesSupported))]
    [MemberData(nameof(Names))]
    public void Echo_over_an_abstract_name_leaves_no_file(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string abstractName = "\0pike-reactor-test-" + Guid.NewGuid().ToString("N");
        EchoThrough(poller, new UnixDomainSocketEndPoint(abstractName), 1 << 20);
        Assert.Empty(Directory.GetFileSystemEntries(Environment.CurrentDirectory, "pike-reactor-test-*"));
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void Closing_the_listener_removes_its_socket_file(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath();
        var listener = new TestListener(poller, new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));

        listener.Close();

        Assert.False(File.Exists(path), "the listener's socket file outlived it");
        // The path is free again: a second listener binds without being asked to clean up.
        using var again = new TestListener(poller, new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void A_stale_socket_file_fails_the_bind_unless_removal_is_asked_for(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath();
        // What a crashed server leaves: a socket file nobody accepts on.
        using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stale.Bind(new UnixDomainSocketEndPoint(path));

        var refused = Assert.Throws<SocketException>(() => new TestListener(poller, new UnixDomainSocketEndPoint(path)));
        Assert.Equal(SocketError.AddressAlreadyInUse, refused.SocketErrorCode);

        using var listener = new TestListener(poller, new UnixDomainSocketEndPoint(path), beforeListen: l => l.RemoveStaleSocketFile = true);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.Unix, SocketType.Stream);
        client.Connect(new UnixDomainSocketEndPoint(path));
        Wait.Until(poller, () => client.ConnectedCalled && listener.Accepted.Count == 1, "a client connected to the listener that replaced the stale file");
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void A_live_socket_is_not_taken_over(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath();
        using var live = new TestListener(poller, new UnixDomainSocketEndPoint(path));

        var refused = Assert.Throws<SocketException>(() => new TestListener(poller, new UnixDomainSocketEndPoint(path), beforeListen: l => l.RemoveStaleSocketFile = true));

        Assert.Equal(SocketError.AddressAlreadyInUse, refused.SocketErrorCode);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.Unix, SocketType.Stream);
        client.Connect(new UnixDomainSocketEndPoint(path));
        // The stale-file probe's connection (closed at once) and the client's.
        Wait.Until(poller, () => client.ConnectedCalled && live.Accepted.Count == 2, "the first listener still accepting");
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void A_file_with_content_is_never_removed(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath("data.txt");
        File.WriteAllText(path, "not a socket");

        Assert.Throws<SocketException>(() => new TestListener(poller, new UnixDomainSocketEndPoint(path), beforeListen: l => l.RemoveStaleSocketFile = true));

        Assert.Equal("not a socket", File.ReadAllText(path));
    }

    private static void EchoThrough(BasePoller poller, EndPoint endpoint, int size, Action? whileListening = null)
    {
        using var listener = new TestListener(poller, endpoint, server =>
        {
            var sender = new EchoTests.BufferedSender(server);
            var buffer = new byte[64 * 1024];
            server.OnRead = s =>
            {
                int n;
                while ((n = s.Recv(buffer)) > 0)
                {
                    sender.Write(buffer.AsSpan(0, n));
                }
            };
            server.OnWrite = _ => sender.Flush();
        });

        byte[] payload = new byte[size];
        new Random(size).NextBytes(payload);
        byte[] received = new byte[size];
        int receivedCount = 0;
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.Unix, SocketType.Stream);
        var clientSender = new EchoTests.BufferedSender(client);
        client.OnConnect = _ => clientSender.Write(payload);
        client.OnWrite = _ => clientSender.Flush();
        client.OnRead = c =>
        {
            int n;
            while (receivedCount < size && (n = c.Recv(received.AsSpan(receivedCount))) > 0)
            {
                receivedCount += n;
            }
        };
        client.Connect(endpoint);

        Wait.Until(poller, () => receivedCount == size, $"{size} bytes echoed over {endpoint} (got {receivedCount})", TimeSpan.FromSeconds(60));

        Assert.True(payload.AsSpan().SequenceEqual(received));
        Assert.True(clientSender.PartialSends > 0, "the payload outgrew the socket buffers: sends were partial and resumed");
        whileListening?.Invoke();
        client.Close();
    }
}
