using System;
using System.Collections.Generic;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// The portable fallback: <see cref="Socket.Select(System.Collections.IList, System.Collections.IList, System.Collections.IList, int)"/>
/// over every registered socket, woken through a loopback socket pair. Each wait costs time
/// in proportion to the number of registered sockets; prefer the OS's own poller.
/// </summary>
public sealed class SelectPoller : BasePoller
{
    private readonly Dictionary<nint, Entry> _entries = new();
    private readonly Dictionary<Socket, nint> _keyBySocket = new(ReferenceEqualityComparer.Instance);
    private readonly List<Socket> _checkRead = new();
    private readonly List<Socket> _checkWrite = new();
    private readonly List<Socket> _checkError = new();
    private readonly Dictionary<nint, IoEvents> _ready = new();
    private readonly List<nint> _readyOrder = new();
    private readonly LoopbackWaker _waker = new();

    /// <inheritdoc/>
    public override string Name => "select";

    /// <inheritdoc/>
    public override void Poll(TimeSpan timeout) => PollCore(timeout);

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        _checkRead.Clear();
        _checkWrite.Clear();
        _checkError.Clear();
        _checkRead.Add(_waker.Reader);
        foreach (KeyValuePair<nint, Entry> pair in _entries)
        {
            Entry entry = pair.Value;
            if ((entry.Interest & IoEvents.Read) != 0)
            {
                _checkRead.Add(entry.Socket);
            }

            if ((entry.Interest & IoEvents.Write) != 0)
            {
                _checkWrite.Add(entry.Socket);

                // Windows reports a failed connect in the exception set, not as writable.
                _checkError.Add(entry.Socket);
            }
        }

        int microseconds = timeoutMilliseconds < 0 ? -1 : (int)Math.Min((long)timeoutMilliseconds * 1000, int.MaxValue);
        Socket.Select(_checkRead, _checkWrite, _checkError.Count > 0 ? _checkError : null, microseconds);

        _ready.Clear();
        _readyOrder.Clear();
        Collect(_checkRead, IoEvents.Read);
        Collect(_checkWrite, IoEvents.Write);
        Collect(_checkError, IoEvents.Read | IoEvents.Write);
        return _readyOrder.Count;
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        for (int i = 0; i < count; i++)
        {
            nint key = _readyOrder[i];
            if (key == WakeKey)
            {
                _waker.Drain();
                AcknowledgeWake();
                continue;
            }

            ProcessEvent(key, _ready[key]);
        }
    }

    /// <inheritdoc/>
    protected override void RegisterHandle(nint handle, nint key, IoEvents interest)
    {
        Socket socket = FindChannel(key)?.Socket ?? throw new InvalidOperationException("No transport holds this key.");
        _entries.Add(key, new Entry(socket, interest));
        _keyBySocket.Add(socket, key);
    }

    /// <inheritdoc/>
    protected override void ModifyHandle(nint handle, nint key, IoEvents previous, IoEvents interest)
    {
        Entry entry = _entries[key];
        _entries[key] = entry with { Interest = interest };
    }

    /// <inheritdoc/>
    protected override void UnregisterHandle(nint handle, nint key)
    {
        if (_entries.Remove(key, out Entry entry))
        {
            _keyBySocket.Remove(entry.Socket);
        }
    }

    /// <inheritdoc/>
    protected override void SignalWake() => _waker.Signal();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _waker.Dispose();
            _entries.Clear();
            _keyBySocket.Clear();
        }

        base.Dispose(disposing);
    }

    private void Collect(List<Socket> sockets, IoEvents events)
    {
        foreach (Socket socket in sockets)
        {
            nint key = ReferenceEquals(socket, _waker.Reader) ? (nint)WakeKey : _keyBySocket[socket];
            if (_ready.TryGetValue(key, out IoEvents already))
            {
                _ready[key] = already | events;
            }
            else
            {
                _ready.Add(key, events);
                _readyOrder.Add(key);
            }
        }
    }

    private readonly record struct Entry(Socket Socket, IoEvents Interest);
}
