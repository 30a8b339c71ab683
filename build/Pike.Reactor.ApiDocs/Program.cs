using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Pike.Reactor.ApiDocs;

// pike-api-docs OUTPUT_DIR ASSEMBLY.dll... : writes OUTPUT_DIR/*.md from each assembly and the
// XML file beside it. --check compares instead of writing and exits 1 when they differ.
bool check = args.Contains("--check");
string[] rest = args.Where(a => a != "--check").ToArray();
if (rest.Length < 2)
{
    Console.Error.WriteLine("usage: Pike.Reactor.ApiDocs [--check] OUTPUT_DIR ASSEMBLY.dll...");
    return 2;
}

IReadOnlyDictionary<string, string> pages = ApiRenderer.Render(rest.Skip(1).ToArray());
string output = rest[0];
if (check)
{
    IReadOnlyList<string> differences = ApiRenderer.Compare(pages, output);
    foreach (string difference in differences)
    {
        Console.Error.WriteLine(difference);
    }

    if (differences.Count > 0)
    {
        Console.Error.WriteLine($"{output} does not match the XML docs: run ./build.sh --target=Docs");
        return 1;
    }

    Console.WriteLine($"{output}: {pages.Count} pages match the XML docs");
    return 0;
}

Directory.CreateDirectory(output);
foreach (string stale in Directory.GetFiles(output, "*.md").Where(f => !pages.ContainsKey(Path.GetFileName(f))))
{
    File.Delete(stale);
}

foreach ((string name, string text) in pages)
{
    File.WriteAllText(Path.Combine(output, name), text);
}

Console.WriteLine($"{output}: {pages.Count} pages written");
return 0;
