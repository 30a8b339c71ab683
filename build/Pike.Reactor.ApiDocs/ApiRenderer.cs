using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Xml.Linq;

namespace Pike.Reactor.ApiDocs;

/// <summary>
/// Renders the public and protected surface of assemblies, with their XML docs, to Markdown:
/// one page per exported type and an index. Members come from reflection (what is really
/// public), text from the XML file (what the author wrote); the output is sorted, so the same
/// build renders the same bytes.
/// </summary>
public static class ApiRenderer
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Loads each assembly path and the XML file beside it and renders them.</summary>
    public static IReadOnlyDictionary<string, string> Render(IEnumerable<string> assemblyPaths) =>
        Render(assemblyPaths.Select(path => Assembly.LoadFrom(Path.GetFullPath(path))));

    /// <summary>Renders loaded assemblies; each one's XML file is looked for beside its location.</summary>
    public static IReadOnlyDictionary<string, string> Render(IEnumerable<Assembly> assemblies)
    {
        List<Assembly> list = assemblies.OrderBy(a => a.GetName().Name, StringComparer.Ordinal).ToList();
        var docs = new Dictionary<string, XElement>(StringComparer.Ordinal);
        foreach (Assembly assembly in list)
        {
            string xml = Path.ChangeExtension(assembly.Location, ".xml");
            if (!File.Exists(xml))
            {
                throw new FileNotFoundException($"No XML documentation beside {assembly.Location}", xml);
            }

            foreach (XElement member in XDocument.Load(xml).Descendants("member"))
            {
                docs[(string)member.Attribute("name")!] = member;
            }
        }

        var types = list.SelectMany(a => a.GetExportedTypes()).OrderBy(t => t.FullName, StringComparer.Ordinal).ToList();
        var known = types.ToDictionary(t => DocId.Of(t), t => t, StringComparer.Ordinal);
        var renderer = new PageWriter(docs, known);
        var pages = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (Type type in types)
        {
            pages[PageWriter.PageName(type)] = renderer.TypePage(type);
        }

        pages["index.md"] = renderer.Index(list, types);
        return pages;
    }

    /// <summary>What differs between the rendered pages and the Markdown files in <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Compare(IReadOnlyDictionary<string, string> pages, string directory)
    {
        var differences = new List<string>();
        foreach ((string name, string text) in pages)
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                differences.Add($"missing: {path}");
            }
            else if (File.ReadAllText(path).ReplaceLineEndings("\n") != text)
            {
                differences.Add($"differs: {path}");
            }
        }

        if (Directory.Exists(directory))
        {
            foreach (string file in Directory.GetFiles(directory, "*.md").Order(StringComparer.Ordinal))
            {
                if (!pages.ContainsKey(Path.GetFileName(file)))
                {
                    differences.Add($"not generated (stale): {file}");
                }
            }
        }

        return differences;
    }

    internal static IEnumerable<MemberInfo> VisibleMembers(Type type) =>
        type.GetMembers(Declared)
            .Where(IsVisible)
            .Where(m => m is not MethodInfo { IsSpecialName: true } || m.Name.StartsWith("op_", StringComparison.Ordinal))
            .Where(m => !m.IsDefined(typeof(CompilerGeneratedAttribute)) && m is not Type)
            .Where(m => !(type.IsEnum && m is FieldInfo { IsSpecialName: true }))
            .Where(m => !IsRecordPlumbing(type, m));

    private static bool IsVisible(MemberInfo member) => member switch
    {
        MethodBase m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly,
        FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
        PropertyInfo p => (p.GetMethod ?? p.SetMethod) is { } accessor && IsVisible(accessor),
        EventInfo e => e.AddMethod is { } add && IsVisible(add),
        _ => false,
    };

    // A record's compiler-written members (Equals, GetHashCode, ToString, PrintMembers,
    // Deconstruct, the copy constructor, == and !=) say nothing its declaration does not.
    private static bool IsRecordPlumbing(Type type, MemberInfo member) =>
        type.GetMethod("<Clone>$") is not null || type.GetMethod("PrintMembers", Declared) is not null
            ? member.Name is "Equals" or "GetHashCode" or "ToString" or "PrintMembers" or "Deconstruct" or "op_Equality" or "op_Inequality" or "EqualityContract"
              || (member is ConstructorInfo c && c.GetParameters() is [{ } only] && only.ParameterType == type)
            : false;
}
