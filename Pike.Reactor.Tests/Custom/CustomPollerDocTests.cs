using System;
using System.IO;
using Xunit;

namespace Pike.Reactor.Tests;

/// <summary>docs/custom-poller.md shows the pike-style poller the contract suite runs on, as it is.</summary>
[Trait("Lane", "linux")]
public class CustomPollerDocTests
{
    [Fact]
    public void The_documented_poller_is_the_one_the_suite_runs()
    {
        string root = RepositoryFiles.Root();
        string code = File.ReadAllText(Path.Combine(root, "Pike.Reactor.Tests", "Custom", "PikeSelectPoller.cs")).ReplaceLineEndings("\n");
        string doc = File.ReadAllText(Path.Combine(root, "docs", "custom-poller.md")).ReplaceLineEndings("\n");
        Assert.Contains("```csharp\n" + code + "```", doc, StringComparison.Ordinal);
        Assert.True(code.Split('\n', StringSplitOptions.None).Length - 1 < 60, "the documented poller is meant to stay under 60 lines");
    }
}
