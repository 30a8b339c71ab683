using System;
using System.Collections.Generic;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// The portable fallback: <see cref="Socket.Select(System.Collections.IList, System.Collections.IList, System.Collections.IList, int)"/>
/// over every registered socket, woken through the core's loopback <see cref="BasePoller.WakeSocket"/>.
/// Each wait costs time in proportion to the number of registered sockets; prefer the OS's own poller.
/// </summary>
/// <remarks>
/// The watched sockets sit in dense arrays (an entry's index is the registration's backend
/// state); the wait builds select's lists from them and maps the answers back by reference.
/// </remarks>
public sealed class SelectPoller : BasePoller
{
    private readonly List<Socket> _checkRead = new();
    private readonly List<Socket> _checkWrite = new();
    private readonly List<Socket> _checkError = new();
    private readonly Dictionary<Socket, int> _indexBySocket = new(ReferenceEqualityComparer.Instance);
    private Socket[] _sockets = new Socket[16];
    private nint[] _keys = new nint[16];
    private IoEvents[] _interest = new IoEvents[16];
    private IoEvents[] _ready = new IoEvents[16];
    private nint[] _readyKeys = new nint[16];
    private IoEvents[] _readyEvents = new IoEvents[16];
    private int _count;
    private bool _wakeReady;

    /// <inheritdoc/>
    public override string Name => "select";

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        _checkRead.Clear();
        _checkWrite.Clear();
        _checkError.Clear();
        _checkRead.Add(WakeSocket);
        bool disposedSocket = false;
        for (int i = 0; i < _count; i++)
        {
            if (_sockets[i].SafeHandle.IsClosed)
            {
                // Disposed behind its transport: Socket.Select would throw for every wait. Report
                // it instead, so that the channel's read meets the disposed socket and closes it.
                _ready[i] = IoEvents.Read | IoEvents.Write;
                disposedSocket = true;
                continue;
            }

            if ((_interest[i] & IoEvents.Read) != 0)
            {
                _checkRead.Add(_sockets[i]);
            }

            if ((_interest[i] & IoEvents.Write) != 0)
            {
                _checkWrite.Add(_sockets[i]);

                // Windows reports a failed connect in the exception set, not as writable.
                _checkError.Add(_sockets[i]);
            }
        }

        int microseconds = disposedSocket ? 0 : timeoutMilliseconds < 0 ? -1 : (int)Math.Min((long)timeoutMilliseconds * 1000, int.MaxValue);
        Socket.Select(_checkRead, _checkWrite, _checkError.Count > 0 ? _checkError : null, microseconds);

        // Copied out by key before dispatch: handlers add and remove sockets, which moves entries.
        _wakeReady = false;
        Mark(_checkRead, IoEvents.Read);
        Mark(_checkWrite, IoEvents.Write);
        Mark(_checkError, IoEvents.Read | IoEvents.Write);
        int found = 0;
        for (int i = 0; i < _count; i++)
        {
            if (_ready[i] != IoEvents.None)
            {
                _readyKeys[found] = _keys[i];
                _readyEvents[found] = _ready[i];
                _ready[i] = IoEvents.None;
                found++;
            }
        }

        return found + (_wakeReady ? 1 : 0);
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        if (_wakeReady)
        {
            DrainWakeSocket();
            count--;
        }

        for (int i = 0; i < count; i++)
        {
            ProcessEvent(_readyKeys[i], _readyEvents[i]);
        }
    }

    /// <inheritdoc/>
    protected override void ApplyInterest(in InterestChange change)
    {
        if (change.IsAdd)
        {
            if (_count == _sockets.Length)
            {
                int length = _count * 2;
                Array.Resize(ref _sockets, length);
                Array.Resize(ref _keys, length);
                Array.Resize(ref _interest, length);
                Array.Resize(ref _ready, length);
                Array.Resize(ref _readyKeys, length);
                Array.Resize(ref _readyEvents, length);
            }

            int index = _count++;
            _sockets[index] = change.Socket;
            _keys[index] = change.Key;
            _interest[index] = change.Interest;
            _indexBySocket.Add(change.Socket, index);
            change.State = index;
            return;
        }

        int at = (int)change.State;
        if (!change.IsRemove)
        {
            _interest[at] = change.Interest;
            return;
        }

        // Keep the arrays dense: the last entry takes the removed one's place.
        _indexBySocket.Remove(_sockets[at]);
        int last = --_count;
        if (at != last)
        {
            _sockets[at] = _sockets[last];
            _keys[at] = _keys[last];
            _interest[at] = _interest[last];
            _indexBySocket[_sockets[at]] = at;
            SetBackendState(_keys[at], at);
        }

        _sockets[last] = null!;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _indexBySocket.Clear();
            Array.Clear(_sockets);
            _count = 0;
        }

        base.Dispose(disposing);
    }

    private void Mark(List<Socket> sockets, IoEvents events)
    {
        foreach (Socket socket in sockets)
        {
            if (_indexBySocket.TryGetValue(socket, out int index))
            {
                _ready[index] |= events;
            }
            else if (ReferenceEquals(socket, WakeSocket))
            {
                _wakeReady = true;
            }
        }
    }
}
