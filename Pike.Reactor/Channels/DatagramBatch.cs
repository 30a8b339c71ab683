using System;
using System.Net;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// Room for up to <see cref="Capacity"/> datagrams of up to <see cref="DatagramSize"/> bytes
/// each, with their senders, filled by <see cref="DatagramTransport.ReceiveBatch"/>: on Linux
/// one <c>recvmmsg</c> call for the whole batch, elsewhere one receive per datagram into the
/// same room. Made once and reused; nothing is allocated per batch or per datagram.
/// </summary>
public sealed class DatagramBatch
{
    private readonly byte[] _payloads;     // pinned: the kernel writes into it
    private readonly byte[] _names;        // pinned: one address slot per datagram
    private readonly int[] _lengths;
    private readonly bool[] _truncated;
    private readonly SocketAddress[] _addresses;

    /// <summary>Makes a batch of <paramref name="capacity"/> datagrams of up to <paramref name="datagramSize"/> bytes, from senders of <paramref name="family"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not 1 to 1,024, or <paramref name="datagramSize"/> not 1 to 65,535.</exception>
    /// <exception cref="ArgumentException"><paramref name="family"/> is not InterNetwork or InterNetworkV6.</exception>
    public DatagramBatch(int capacity, int datagramSize, AddressFamily family = AddressFamily.InterNetwork)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1024); // UIO_MAXIOV, recvmmsg's limit
        ArgumentOutOfRangeException.ThrowIfLessThan(datagramSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(datagramSize, 65_535);
        if (family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"A batch holds IPv4 or IPv6 senders, not {family}.", nameof(family));
        }

        Capacity = capacity;
        DatagramSize = datagramSize;
        Family = family;
        AddressSize = SocketAddress.GetMaximumAddressSize(family);
        _payloads = GC.AllocateArray<byte>(checked(capacity * datagramSize), pinned: true);
        _names = GC.AllocateArray<byte>(capacity * AddressSize, pinned: true);
        _lengths = new int[capacity];
        _truncated = new bool[capacity];
        _addresses = new SocketAddress[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _addresses[i] = new SocketAddress(family);
        }

        Headers = GC.AllocateArray<Core.Interop.Libc.MultiMessageHeader>(capacity, pinned: true);
        Vectors = GC.AllocateArray<Core.Interop.Libc.IOVector>(capacity, pinned: true);
    }

    /// <summary>How many datagrams the batch holds at most.</summary>
    public int Capacity { get; }

    /// <summary>The room for each datagram; a longer one is cut (<see cref="IsTruncated"/>).</summary>
    public int DatagramSize { get; }

    /// <summary>The family of the senders' addresses.</summary>
    public AddressFamily Family { get; }

    /// <summary>How many datagrams the last <see cref="DatagramTransport.ReceiveBatch"/> stored.</summary>
    public int Count { get; private set; }

    internal int AddressSize { get; }

    internal Core.Interop.Libc.MultiMessageHeader[] Headers { get; }

    internal Core.Interop.Libc.IOVector[] Vectors { get; }

    internal byte[] Payloads => _payloads;

    internal byte[] Names => _names;

    /// <summary>The payload of datagram <paramref name="index"/> (valid until the next receive into this batch).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="Count"/>.</exception>
    public Span<byte> Datagram(int index)
    {
        CheckIndex(index);
        return _payloads.AsSpan(index * DatagramSize, _lengths[index]);
    }

    /// <summary>The sender of datagram <paramref name="index"/>: a <see cref="SocketAddress"/> the batch owns and refills (copy it to keep it).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="Count"/>.</exception>
    public SocketAddress Address(int index)
    {
        CheckIndex(index);
        return _addresses[index];
    }

    /// <summary>Whether datagram <paramref name="index"/> was longer than <see cref="DatagramSize"/> (the rest is gone).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="Count"/>.</exception>
    public bool IsTruncated(int index)
    {
        CheckIndex(index);
        return _truncated[index];
    }

    internal Span<byte> Room(int index) => _payloads.AsSpan(index * DatagramSize, DatagramSize);

    internal SocketAddress AddressSlot(int index) => _addresses[index];

    internal void Clear() => Count = 0;

    /// <summary>Records datagram <paramref name="index"/> as received (its address already in its <see cref="SocketAddress"/>).</summary>
    internal void Store(int index, int length, bool truncated)
    {
        _lengths[index] = length;
        _truncated[index] = truncated;
        Count = index + 1;
    }

    /// <summary>Records datagram <paramref name="index"/> from the kernel's address slot.</summary>
    internal void StoreFromName(int index, int length, bool truncated, int nameLength)
    {
        SocketAddress address = _addresses[index];
        _names.AsSpan(index * AddressSize, nameLength).CopyTo(address.Buffer.Span);
        address.Size = nameLength;
        Store(index, length, truncated);
    }

    private void CheckIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
    }
}
