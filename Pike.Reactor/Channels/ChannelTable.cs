using System;
using System.Collections.Generic;
using System.Net.Sockets;

namespace Pike.Reactor;

/// <summary>
/// The one home of every registration's state: the channel, its handle, the key's generation,
/// what the channel wants (connecting, a deferred write, dormant), what the backend was last
/// told (applied interest), and one value the backend owns. A key packs a slot index with the
/// slot's generation, which changes every time the slot is freed: an event still in the
/// kernel's batch for a channel closed meanwhile carries the old generation and finds no
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

    /// <summary>Slots ever handed out: every live slot index is below it.</summary>
    public int HighWater => _used;

    public bool IsHandleHeld(nint handle) => _slotByHandle.ContainsKey(handle);

    public nint Add(Transport channel, nint handle, long batch)
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
        uint generation = slot.Generation;
        slot = default;
        slot.Channel = channel;
        slot.Handle = handle;
        slot.Generation = generation;
        slot.NextFree = -1;
        slot.AddedInBatch = batch;
        _slotByHandle.Add(handle, index);
        Count++;
        return MakeKey(index, generation);
    }

    public void Remove(nint key)
    {
        int index = (int)((long)key & IndexMask);
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

    /// <summary>The live slot of <paramref name="key"/>; throws when the registration has ended (a caller's bug).</summary>
    public ref Slot Get(nint key)
    {
        if (Find(key) is null)
        {
            throw new InvalidOperationException("No channel is registered under this key.");
        }

        return ref _slots[(int)((long)key & IndexMask)];
    }

    /// <summary>The live slot that holds <paramref name="handle"/>, and its key; false when no channel holds it.</summary>
    public bool TryFindByHandle(nint handle, out nint key)
    {
        if (_slotByHandle.TryGetValue(handle, out int index))
        {
            key = MakeKey(index, _slots[index].Generation);
            return true;
        }

        key = -1;
        return false;
    }

    /// <summary>The slot at <paramref name="index"/> (below <see cref="HighWater"/>), live or free.</summary>
    public ref Slot At(int index) => ref _slots[index];

    /// <summary>The key of the slot at <paramref name="index"/> as it is now.</summary>
    public nint KeyAt(int index) => MakeKey(index, _slots[index].Generation);

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

    /// <summary>Copies every live channel into <paramref name="into"/>.</summary>
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

    /// <summary>One registration. Wanted interest is derived from the flags; applied is what the backend was told.</summary>
    internal struct Slot
    {
        public Transport? Channel;
        public nint Handle;
        public uint Generation;
        public int NextFree;

        /// <summary>Connect started and not yet finished: watched for writing, checked through SO_ERROR.</summary>
        public bool Connecting;

        /// <summary>A write was deferred: one HandleWrite when writable (one-shot).</summary>
        public bool WriteDeferred;

        /// <summary>A stream socket that neither is connected, nor connects, nor listens: not watched (the kernel would report it hung up).</summary>
        public bool Dormant;

        /// <summary>A connect error learned before the connect check (at once from connect, or from the kernel's event).</summary>
        public SocketError ConnectError;

        /// <summary>
        /// A datagram socket's error that the backend learned from the event itself and the kernel
        /// no longer holds (libkqueue reads SO_ERROR, clearing it, to fill the kevent): its next
        /// receive or send throws it.
        /// </summary>
        public SocketError PendingError;

        public IoEvents Applied;
        public bool AppliedConnecting;

        /// <summary>The backend's own value for this registration (an index, a pointer); 0 until it sets one.</summary>
        public nint BackendState;

        /// <summary>The dispatch batch in which the channel was added; fileno-based reports of that batch are stale for it.</summary>
        public long AddedInBatch;
    }
}
