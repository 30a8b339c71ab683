using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Pike.Reactor.RespServer.Storage;

/// <summary>
/// The in-memory keyspace: byte keys to byte values, looked up by spans of the request.
/// Overwriting a value of the same length copies into the array already held, so a steady
/// stream of SETs on existing keys (what redis-benchmark sends) allocates nothing.
/// </summary>
internal sealed class KeyValueStore
{
    private readonly Dictionary<byte[], byte[]> _map = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], byte[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public KeyValueStore()
    {
        _lookup = _map.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => _map.Count;

    public bool TryGet(ReadOnlySpan<byte> key, out byte[] value) => _lookup.TryGetValue(key, out value!);

    public bool ContainsKey(ReadOnlySpan<byte> key) => _lookup.ContainsKey(key);

    public void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        ref byte[]? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_lookup, key, out bool exists);
        if (exists && slot!.Length == value.Length)
        {
            value.CopyTo(slot);
        }
        else
        {
            slot = value.ToArray();
        }
    }

    public bool Remove(ReadOnlySpan<byte> key) => _lookup.Remove(key);

    public void Clear() => _map.Clear();
}
