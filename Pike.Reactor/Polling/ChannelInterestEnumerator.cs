namespace Pike.Reactor;

/// <summary>
/// Walks the channels of a poller with what each wants watched (<see cref="BasePoller.WatchedChannels"/>);
/// allocates nothing. Channels added or removed during the walk may or may not be seen.
/// </summary>
public struct ChannelInterestEnumerator
{
    private readonly ChannelTable _table;
    private int _index;

    internal ChannelInterestEnumerator(ChannelTable table)
    {
        _table = table;
        _index = -1;
    }

    /// <summary>The channel at the current position.</summary>
    public readonly ChannelInterest Current
    {
        get
        {
            ref ChannelTable.Slot slot = ref _table.At(_index);
            return new ChannelInterest(slot.Channel!, slot.Handle, BasePoller.WantedInterest(ref slot), slot.Connecting);
        }
    }

    /// <summary>Makes the walk usable with <c>foreach</c>.</summary>
    public readonly ChannelInterestEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next live channel.</summary>
    public bool MoveNext()
    {
        while (++_index < _table.HighWater)
        {
            if (_table.At(_index).Channel is not null)
            {
                return true;
            }
        }

        return false;
    }
}
