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

    // Symbolic links need a privilege on Windows.
    public static bool UnixSocketsAndLinks => UnixSocketsSupported && !OperatingSystem.IsWindows();

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
    public void Echo_over_an_abstract_name(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string abstractName = "\0pike-reactor-test-" + Guid.NewGuid().ToString("N");
        EchoThrough(poller, new UnixDomainSocketEndPoint(abstractName), 1 << 20);
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

        using var listener = ListenRemovingStale(poller, path);
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

        var refused = Assert.Throws<SocketException>(() => ListenRemovingStale(poller, path));

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

        Assert.Throws<SocketException>(() => ListenRemovingStale(poller, path));

        Assert.Equal("not a socket", File.ReadAllText(path));
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void An_empty_regular_file_is_never_removed(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath();
        File.WriteAllBytes(path, []); // size 0, as a socket file, and refused as one (Linux)

        Assert.Throws<SocketException>(() => ListenRemovingStale(poller, path));

        Assert.True(File.Exists(path), "an empty regular file was taken for a stale socket");
    }

    [Theory(Skip = "needs AF_UNIX and symbolic links without a privilege", SkipUnless = nameof(UnixSocketsAndLinks))]
    [MemberData(nameof(Names))]
    public void A_link_to_a_stale_socket_is_never_removed(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string target = SocketPath("target.sock");
        using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stale.Bind(new UnixDomainSocketEndPoint(target));
        string link = SocketPath("link.sock");
        File.CreateSymbolicLink(link, target);

        Assert.Throws<SocketException>(() => ListenRemovingStale(poller, link));

        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.True(File.Exists(target));
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void A_stale_socket_under_a_name_starting_with_at_is_removed_on_request(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        // A path, not an abstract name, although ToString shows both with a leading '@'.
        string directory = Path.GetDirectoryName(SocketPath())!;
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = directory;
        try
        {
            using var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            stale.Bind(new UnixDomainSocketEndPoint("@at.sock"));
            Assert.True(File.Exists(Path.Combine(directory, "@at.sock")));

            using var listener = ListenRemovingStale(poller, "@at.sock");

            Assert.True(File.Exists(Path.Combine(directory, "@at.sock")), "the listener's own socket file");
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }

    [Theory(Skip = NoUnixSockets, SkipUnless = nameof(UnixSocketsSupported))]
    [MemberData(nameof(Names))]
    public void A_connect_to_a_full_backlog_fails_at_once_with_the_system_error(string name)
    {
        using BasePoller poller = Pollers.Create(name);
        string path = SocketPath();
        using var full = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        full.Bind(new UnixDomainSocketEndPoint(path));
        full.Listen(1); // never accepts

        TestChannel? failed = null;
        for (int i = 0; i < 64 && failed is null; i++)
        {
            var client = new TestChannel(poller);
            client.CreateSocket(AddressFamily.Unix, SocketType.Stream);
            client.Connect(new UnixDomainSocketEndPoint(path));
            poller.Poll(TimeSpan.Zero);
            if (client.Errors.Count > 0)
            {
                failed = client;
            }
        }

        Assert.NotNull(failed);
        var error = Assert.IsType<SocketException>(failed.Errors[0]);
        // EAGAIN on Linux, ECONNREFUSED on the BSDs and macOS: not a connect left "in progress"
        // that ends as NotConnected.
        Assert.Contains(error.SocketErrorCode, new[] { SocketError.WouldBlock, SocketError.ConnectionRefused });
    }

    private static TestListener ListenRemovingStale(BasePoller poller, string path) =>
        new(poller, new UnixDomainSocketEndPoint(path), beforeListen: l => l.RemoveStaleSocketFile = true);

    private static void EchoThrough(BasePoller poller, EndPoint endpoint, int size, Action? whileListening = null)
    {
        using var listener = new TestListener(poller, endpoint, EchoTests.ServeEcho);
        var client = new TestChannel(poller);
        client.CreateSocket(AddressFamily.Unix, SocketType.Stream);
        var echo = new EchoTests.EchoClient(client, size);
        client.Connect(endpoint);

        echo.WaitForAll(poller);

        Assert.True(echo.Sender.PartialSends > 0, "the payload outgrew the socket buffers: sends were partial and resumed");
        whileListening?.Invoke();
        client.Close();
    }
}
