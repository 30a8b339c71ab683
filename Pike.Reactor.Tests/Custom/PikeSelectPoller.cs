using System;
using System.Collections.Generic;
using System.Net.Sockets;

namespace Pike.Reactor.Tests;

// Pike's way: override Poll, find readiness (here Socket.Select), report it by descriptor.
public sealed class PikeSelectPoller : BasePoller
{
    private readonly List<Socket> _read = new();
    private readonly List<Socket> _write = new();
    private readonly List<Socket> _failed = new();
    private nint[] _filenos = new nint[64];

    public override string Name => "pike-select";

    public override void Poll(TimeSpan timeout)
    {
        _read.Clear();
        _write.Clear();
        _failed.Clear();
        _read.Add(WakeSocket); // readable when Wake, Post, Stop or a timer must end the wait
        foreach (ChannelInterest channel in WatchedChannels)
        {
            Socket socket = channel.Transport.Socket!;
            if ((channel.Interest & IoEvents.Read) != 0)
            {
                _read.Add(socket);
            }

            if ((channel.Interest & IoEvents.Write) != 0)
            {
                _write.Add(socket);
                _failed.Add(socket); // Windows reports a failed connect here, not as writable
            }
        }

        int microseconds = timeout == System.Threading.Timeout.InfiniteTimeSpan ? -1 : (int)Math.Min(timeout.Ticks / 10, int.MaxValue);
        Socket.Select(_read, _write, _failed.Count > 0 ? _failed : null, microseconds);
        ProcessReadables(Filenos(_read));
        ProcessWritables(Filenos(_write));
        ProcessWritables(Filenos(_failed));
    }

    private ReadOnlySpan<nint> Filenos(List<Socket> sockets)
    {
        if (_filenos.Length < sockets.Count)
        {
            _filenos = new nint[sockets.Count * 2];
        }

        for (int i = 0; i < sockets.Count; i++)
        {
            _filenos[i] = sockets[i].Handle;
        }

        return _filenos.AsSpan(0, sockets.Count);
    }
}
