using System.Threading;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.RespServer.Server;

/// <summary>
/// What the loops of one server share (one loop has one of its own): the store, the lock its
/// commands take when there are several loops, the large-argument budget and the client ids.
/// Everything else a loop keeps to itself (its clients, buffers and counters).
/// </summary>
internal sealed class SharedServerState
{
    private long _lastClientId;

    /// <summary>State for <paramref name="loops"/> loops: with more than one, the store's commands lock it.</summary>
    public SharedServerState(int loops = 1)
    {
        Gate = loops > 1 ? new Lock() : null;
        Store = new KeyValueStore(Gate);
    }

    public KeyValueStore Store { get; }

    /// <summary>The store's lock, null with one loop (see <see cref="Commands.CommandProcessor.Gate"/>).</summary>
    public Lock? Gate { get; }

    /// <summary>The bytes large arguments may announce ahead of their arrival, for every client of every loop together.</summary>
    public LargeArgumentBudget LargeArguments { get; } = new();

    /// <summary>A client id unique in the server, as Redis's CLIENT ID.</summary>
    public long NextClientId() => Interlocked.Increment(ref _lastClientId);
}
