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
    // Held by every caller when several loops share the store; checked in debug builds.
    private readonly System.Threading.Lock? _gate;

    private readonly Dictionary<byte[], byte[]> _map = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], byte[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public KeyValueStore(System.Threading.Lock? gate = null)
    {
        _gate = gate;
        _lookup = _map.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count
    {
        get
        {
            CheckGate();
            return _map.Count;
        }
    }

    public bool TryGet(ReadOnlySpan<byte> key, out byte[] value)
    {
        CheckGate();
        return _lookup.TryGetValue(key, out value!);
    }

    public bool ContainsKey(ReadOnlySpan<byte> key)
    {
        CheckGate();
        return _lookup.ContainsKey(key);
    }

    public void Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckGate();
        ref byte[]? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_lookup, key, out bool exists);
        if (exists && slot!.Length == value.Length)
        {
            value.CopyTo(slot);
        }
        else
        {
            if (exists)
            {
                LargeMemory.Released(slot!.Length);
            }

            slot = value.Length >= LargeMemory.Threshold ? CopyLarge(value) : value.ToArray();
        }
    }

    /// <summary>
    /// Stores <paramref name="value"/> itself as the value (a large argument received into its
    /// own array): nothing is copied, and the caller lets go of the array.
    /// </summary>
    public void Adopt(ReadOnlySpan<byte> key, byte[] value)
    {
        CheckGate();
        ref byte[]? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_lookup, key, out bool exists);
        if (exists)
        {
            LargeMemory.Released(slot!.Length);
        }

        slot = value;
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        CheckGate();
        if (!_lookup.Remove(key, out _, out byte[]? value))
        {
            return false;
        }

        LargeMemory.Released(value.Length);
        return true;
    }

    public void Clear()
    {
        CheckGate();
        foreach (byte[] value in _map.Values)
        {
            LargeMemory.Released(value.Length);
        }

        _map.Clear();
    }

    [System.Diagnostics.Conditional("DEBUG")]
    private void CheckGate() =>
        System.Diagnostics.Debug.Assert(_gate is null || _gate.IsHeldByCurrentThread, "a command that touches the store is missing from CommandProcessor.UsesStore");

    // Every byte is written at once: clearing it first would touch the pages twice.
    private static byte[] CopyLarge(ReadOnlySpan<byte> value)
    {
        byte[] copy = LargeMemory.Allocate(value.Length);
        value.CopyTo(copy);
        return copy;
    }
}
