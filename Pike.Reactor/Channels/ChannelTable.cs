using System;
using System.Collections.Generic;

namespace Pike.Reactor;

/// <summary>
/// The channels a poller holds, addressed by registration keys. A key packs a slot index
/// with the slot's generation, which changes every time the slot is freed: an event still in
/// the kernel's batch for a channel closed meanwhile carries the old generation and finds no
/// channel, even when a new channel was given the same slot and the same descriptor number
/// (docs/pitfalls.md 1; Netty's kqueue uses a unique id per registration the same way).
/// </summary>
internal sealed class ChannelTable
{
    private static readonly int IndexBits = IntPtr.Size == 8 ? 32 : 20;
    private static readonly long IndexMask = (1L << IndexBits) - 1;
    private static readonly uint GenerationMask = IntPtr.Size == 8 ? 0x7FFF_FFFFu : 0x7FFu;

    private Slot[] _slots = new Slot[64];
    private int _used;          // slots ever handed out
    private int _freeHead = -1; // most recently freed slot, reused first
    private readonly Dictionary<nint, int> _slotByHandle = new();

    public int Count { get; private set; }

    public static int SlotIndex(nint key) => (int)((long)key & IndexMask);

    public bool IsHandleHeld(nint handle) => _slotByHandle.ContainsKey(handle);

    public nint Add(Transport channel, nint handle)
    {
        int index;
        if (_freeHead >= 0)
        {
            index = _freeHead;
            _freeHead = _slots[index].NextFree;
        }
        else
        {
            if (_used == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }

            index = _used++;
        }

        ref Slot slot = ref _slots[index];
        slot.Channel = channel;
        slot.Handle = handle;
        slot.NextFree = -1;
        _slotByHandle.Add(handle, index);
        Count++;
        return MakeKey(index, slot.Generation);
    }

    public void Remove(nint key)
    {
        int index = SlotIndex(key);
        ref Slot slot = ref _slots[index];
        _slotByHandle.Remove(slot.Handle);
        slot.Channel = null;
        slot.Generation = (slot.Generation + 1) & GenerationMask;
        slot.NextFree = _freeHead;
        _freeHead = index;
        Count--;
    }

    /// <summary>The channel registered under <paramref name="key"/>, or null when that registration has ended.</summary>
    public Transport? Find(nint key)
    {
        long raw = key;
        if (raw < 0)
        {
            return null;
        }

        uint index = (uint)(raw & IndexMask);
        if (index >= (uint)_used)
        {
            return null;
        }

        ref Slot slot = ref _slots[index];
        return slot.Generation == (uint)(raw >> IndexBits) ? slot.Channel : null;
    }

    /// <summary>
    /// For a key whose registration has ended: the handle it was registered with, when no
    /// live registration holds that handle now (so removing it from the kernel set is safe).
    /// </summary>
    public bool TryGetStaleHandle(nint key, out nint handle)
    {
        handle = -1;
        long raw = key;
        if (raw < 0 || (raw & IndexMask) >= _used || Find(key) is not null)
        {
            return false;
        }

        handle = _slots[raw & IndexMask].Handle;
        return !_slotByHandle.ContainsKey(handle);
    }

    /// <summary>Visits every live channel; the callback may not add or remove channels.</summary>
    public void CopyChannelsTo(List<Transport> into)
    {
        for (int i = 0; i < _used; i++)
        {
            if (_slots[i].Channel is { } channel)
            {
                into.Add(channel);
            }
        }
    }

    private static nint MakeKey(int index, uint generation) => (nint)(((long)generation << IndexBits) | (uint)index);

    private struct Slot
    {
        public Transport? Channel;
        public nint Handle;
        public uint Generation;
        public int NextFree;
    }
}
