using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace Pike.Reactor.Tests.Core;

/// <summary>
/// What the build properties of the shipped assemblies leave in them: the trimming and AOT
/// markers (IsTrimmable, IsAotCompatible become assembly metadata) and the XML documentation
/// file. A props change that turns them off fails here, not only in review.
/// </summary>
[Trait("Lane", "core")]
public class ShippedAssemblyTests
{
    public static TheoryData<string> ShippedAssemblies => new(
        typeof(BasePoller).Assembly.GetName().Name!,
        "Pike.Reactor.Linux",
        "Pike.Reactor.BSD",
        "Pike.Reactor.Windows");

    [Theory]
    [MemberData(nameof(ShippedAssemblies))]
    public void Is_marked_trimmable_and_aot_compatible(string name)
    {
        Assembly assembly = Assembly.Load(name);
        var metadata = assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value ?? "");
        Assert.Equal("True", metadata.GetValueOrDefault("IsTrimmable"));
        Assert.Equal("True", metadata.GetValueOrDefault("IsAotCompatible"));
    }

    [Theory]
    [MemberData(nameof(ShippedAssemblies))]
    public void Ships_an_xml_documentation_file_that_documents_every_public_type(string name)
    {
        Assembly assembly = Assembly.Load(name);
        string file = Path.Combine(AppContext.BaseDirectory, name + ".xml");
        Assert.True(File.Exists(file), $"{file} is missing: GenerateDocumentationFile is off for {name}");
        var documented = XDocument.Load(file).Descendants("member")
            .Select(m => (string?)m.Attribute("name"))
            .Where(n => n is not null && n.StartsWith("T:", StringComparison.Ordinal))
            .ToHashSet();
        foreach (Type type in assembly.GetExportedTypes())
        {
            Assert.Contains("T:" + type.FullName!.Replace('+', '.'), documented);
        }
    }
}
