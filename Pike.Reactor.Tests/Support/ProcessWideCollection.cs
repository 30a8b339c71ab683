using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>Tests that measure the whole process (open descriptors) run in this collection, after and apart from all others.</summary>
[CollectionDefinition(nameof(ProcessWideCollection), DisableParallelization = true)]
public sealed class ProcessWideCollection
{
}
