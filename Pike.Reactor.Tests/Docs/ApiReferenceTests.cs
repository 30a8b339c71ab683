using System;
using System.IO;
using System.Reflection;
using Pike.Reactor.ApiDocs;
using Xunit;

namespace Pike.Reactor.Tests.Docs;

/// <summary>docs/api is what the generator renders from the XML docs of this build: a doc comment or
/// a public member changed without ./build.sh --target=Docs fails here, naming the page.</summary>
[Trait("Lane", "docs")]
public class ApiReferenceTests
{
    [Fact]
    public void Docs_api_matches_the_xml_docs_of_the_shipped_assemblies()
    {
        Assembly[] assemblies =
        [
            typeof(BasePoller).Assembly,
            Assembly.Load("Pike.Reactor.Linux"),
            Assembly.Load("Pike.Reactor.BSD"),
            Assembly.Load("Pike.Reactor.Windows"),
        ];
        var pages = ApiRenderer.Render(assemblies);
        Assert.Contains("Pike.Reactor.Transport.md", pages.Keys);
        Assert.Contains("Pike.Reactor.Linux.EpollPoller.md", pages.Keys);

        var differences = ApiRenderer.Compare(pages, Path.Combine(RepositoryFiles.Root(), "docs", "api"));
        Assert.True(differences.Count == 0, "run ./build.sh --target=Docs:\n" + string.Join("\n", differences));
    }

    [Fact]
    public void Every_public_type_has_a_page_with_its_summary()
    {
        var pages = ApiRenderer.Render([typeof(BasePoller).Assembly]);
        foreach (Type type in typeof(BasePoller).Assembly.GetExportedTypes())
        {
            Assert.True(pages.TryGetValue(type.FullName + ".md", out string? page), type.FullName);
            Assert.StartsWith("# " + type.Name.Split('`')[0], page);
        }

        Assert.Contains("public void Loop(TimeSpan? timeout = null, int? count = null);", pages["Pike.Reactor.BasePoller.md"]);
        Assert.Contains("EndOfStreamException", pages["Pike.Reactor.Transport.md"]);
    }
}
