using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>
/// Tests that measure the whole process (open descriptors or handles, process CPU time) run in
/// this collection: the xunit runner keeps a collection without parallelization for after all
/// others and runs its tests one at a time, so nothing else opens, closes or spins meanwhile.
/// </summary>
[CollectionDefinition(nameof(ProcessWideCollection), DisableParallelization = true)]
public sealed class ProcessWideCollection
{
}
