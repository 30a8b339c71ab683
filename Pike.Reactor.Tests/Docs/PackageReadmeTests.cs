using System.Text.RegularExpressions;
using Xunit;

namespace Pike.Reactor.Tests.Docs;

/// <summary>The package's readme (what nuget.org shows) carries the README's usage example as it is: the one ReadmeEchoTests runs.</summary>
[Trait("Lane", "linux")]
public class PackageReadmeTests
{
    [Fact]
    public void The_package_readme_shows_the_tested_usage_example()
    {
        string readme = RepositoryFiles.Read("README.md");
        string usage = readme[readme.IndexOf("## Usage", System.StringComparison.Ordinal)..];
        string example = Regex.Match(usage, "```csharp\n.*?\n```", RegexOptions.Singleline).Value;
        Assert.Contains("Write(", example, System.StringComparison.Ordinal);

        string package = RepositoryFiles.Read("Pike.Reactor", "PackageReadme.md");
        Assert.Contains(example, package, System.StringComparison.Ordinal);
    }
}
