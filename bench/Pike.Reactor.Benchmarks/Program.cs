using System;
using System.Linq;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// Short runs: the figures compared are ratios between cases of the same run.
var config = DefaultConfig.Instance
    .AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(10).WithLaunchCount(1))
    .WithOption(ConfigOptions.JoinSummary, true);
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Pike.Reactor.Benchmarks.PollBenchmarks).Assembly).Run(args, config).ToList();

// A run that measured nothing (a filter that matched no case, a build BenchmarkDotNet could not
// make, a case that threw) must fail the target rather than print an empty table and succeed.
var reports = summaries.SelectMany(s => s.Reports).ToList();
int measured = reports.Count(r => r.Success && r.ResultStatistics is not null);
int failed = reports.Count - measured;
var validation = summaries.SelectMany(s => s.ValidationErrors).Where(e => e.IsCritical).ToList();
Console.WriteLine($"benchmarks: {measured} measured, {failed} failed, {validation.Count} critical validation errors");
foreach (var error in validation)
{
    Console.Error.WriteLine($"validation: {error.Message}");
}

// Listing or help runs nothing on purpose.
bool onlyListing = args.Any(a => a is "--list" or "--help" or "-h" or "--info" or "--version");
return !onlyListing && (measured == 0 || failed > 0 || validation.Count > 0) ? 1 : 0;
