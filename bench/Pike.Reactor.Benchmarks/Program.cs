using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

// Short runs: the figures compared are ratios between cases of the same run.
var config = DefaultConfig.Instance
    .AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(10).WithLaunchCount(1))
    .WithOption(ConfigOptions.JoinSummary, true);
BenchmarkSwitcher.FromAssembly(typeof(Pike.Reactor.Benchmarks.PollBenchmarks).Assembly).Run(args, config);
