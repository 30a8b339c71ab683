using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using Pike.Reactor;
using Xunit;

namespace Pike.Reactor.Proxy.Tests;

/// <summary>
/// The README's code, copied into this project between "---- from README.md" and "---- end of
/// the README's code" markers, is the README's text (less the indentation of the class it sits
/// in), and the UDP echo works: here, outside the core's test assembly, it compiles as a
/// user's code does.
/// </summary>
[Trait("Lane", "proxy")]
public class ReadmeCodeTests
{
    public static TheoryData<string> Copies => ["ReadmeEchoTests.cs", "ReadmeCodeTests.cs"];

    [Theory]
    [MemberData(nameof(Copies))]
    public void Each_copy_is_the_READMEs_text(string file)
    {
        string root = Root();
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        string source = File.ReadAllText(Path.Combine(root, "samples", "Pike.Reactor.Proxy.Tests", file)).Replace("\r\n", "\n", StringComparison.Ordinal);
        const string Start = "\n    // ---- from README.md"; // a line of its own, indented as a member
        const string End = "\n    // ---- end of the README's code ----";
        int from = source.IndexOf(Start, StringComparison.Ordinal);
        Assert.True(from >= 0, $"{file} has no {Start} marker");
        from = source.IndexOf('\n', from + 1) + 1;
        int to = source.IndexOf(End, from, StringComparison.Ordinal);
        Assert.True(to > from, $"{file} has no end marker");

        var lines = new List<string>();
        foreach (string line in source[from..to].TrimEnd().Split('\n'))
        {
            lines.Add(line.StartsWith("    ", StringComparison.Ordinal) ? line[4..] : line.TrimStart());
        }

        string copy = string.Join('\n', lines);
        Assert.Contains(copy, readme, StringComparison.Ordinal);
    }

    [Fact]
    public void The_README_UDP_echo_sends_every_datagram_back_to_its_sender()
    {
        using BasePoller poller = PollerFactory.Create();
        var echo = new UdpEcho(poller, new IPEndPoint(IPAddress.Loopback, 0));
        var server = (IPEndPoint)echo.LocalEndPoint!;
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        first.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        second.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        first.SendTo("one"u8, server);
        second.SendTo("two"u8, server);
        var got = new Dictionary<Socket, string>();
        byte[] buffer = new byte[16];
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (got.Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "both echoes within 20 s");
            poller.Poll(TimeSpan.FromMilliseconds(50));
            foreach (Socket peer in new[] { first, second })
            {
                if (peer.Available > 0)
                {
                    got[peer] = System.Text.Encoding.ASCII.GetString(buffer, 0, peer.Receive(buffer));
                }
            }
        }

        Assert.Equal("one", got[first]);
        Assert.Equal("two", got[second]);
        echo.Close();
    }

    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pike.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Pike.sln above " + AppContext.BaseDirectory);
    }

    // ---- from README.md, "Usage", verbatim ----
    sealed class UdpEcho : DatagramTransport
    {
        private readonly byte[] _buffer = new byte[2048];
        private readonly SocketAddress _from = new(AddressFamily.InterNetwork);

        public UdpEcho(BasePoller poller, IPEndPoint local) : base(poller) => Bind(local);

        protected override void HandleRead()
        {
            while (TryReceiveFrom(_buffer, _from, out int length))   // false: nothing waits
            {
                TrySendTo(_buffer.AsSpan(0, length), _from);          // false: the socket is full (dropped here)
            }
        }
    }
    // ---- end of the README's code ----
}
