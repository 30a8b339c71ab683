using System;
using System.IO;

namespace Pike.Reactor.Tests;

/// <summary>The checkout the tests were built from: for tests that compare docs with code.</summary>
public static class RepositoryFiles
{
    /// <summary>The directory holding Pike.sln, above the test binaries.</summary>
    public static string Root()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pike.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No Pike.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>A file of the checkout, with "\n" line endings.</summary>
    public static string Read(params string[] path) =>
        File.ReadAllText(Path.Combine([Root(), .. path])).ReplaceLineEndings("\n");
}
