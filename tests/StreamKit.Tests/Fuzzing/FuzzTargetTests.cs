using System.Reflection;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire.Fuzzing;
using Xunit;
using Xunit.Abstractions;

namespace StreamKit.Tests.Fuzzing;

/// <summary>Marks the test that fuzzes a target; <see cref="FuzzTargetTests.EveryTargetHasABoundedFuzzTest"/> checks that each target has one.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class FuzzTargetTestAttribute(Type target) : Attribute
{
    public Type Target { get; } = target;
}

/// <summary>
/// A bounded, seeded fuzz run of every target (Garnet's pattern): a fixed seed so CI is
/// reproducible (STREAMKIT_FUZZ_SEED explores others), an iteration count and a time cap so slow
/// machines still finish (at most 12 s per target: 8 targets, under 100 s in all). Any finding fails the test with its
/// input in hex and its (seed, iteration); turn it into a byte-array test in FuzzRegressionTests.
/// </summary>
public sealed class FuzzTargetTests(ITestOutputHelper output)
{
    internal static readonly ulong Seed = ulong.TryParse(Environment.GetEnvironmentVariable("STREAMKIT_FUZZ_SEED"), out ulong s) ? s : 20260815;
    private const long Iterations = 30_000;
    private const long MinimumIterations = 200;
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(12);

    [Fact, FuzzTargetTest(typeof(PreambleFuzzTarget))]
    public void Preamble() => Fuzz(FuzzTargetInfo.Of<PreambleFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(ChunkHeaderFuzzTarget))]
    public void ChunkHeader() => Fuzz(FuzzTargetInfo.Of<ChunkHeaderFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(ChunkReaderFuzzTarget))]
    public void ChunkReader() => Fuzz(FuzzTargetInfo.Of<ChunkReaderFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(StreamValidatorFuzzTarget))]
    public void StreamValidator() => Fuzz(FuzzTargetInfo.Of<StreamValidatorFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(ReturnPathFuzzTarget))]
    public void ReturnPath() => Fuzz(FuzzTargetInfo.Of<ReturnPathFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(ControlRequestFuzzTarget))]
    public void ControlRequest() => Fuzz(FuzzTargetInfo.Of<ControlRequestFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(ControlLineFuzzTarget))]
    public void ControlLine() => Fuzz(FuzzTargetInfo.Of<ControlLineFuzzTarget>());

    [Fact, FuzzTargetTest(typeof(ReceiverSessionFuzzTarget))]
    public void ReceiverSession() => Fuzz(FuzzTargetInfo.Of<ReceiverSessionFuzzTarget>());

    private void Fuzz(FuzzTargetInfo target)
    {
        var report = FuzzRunner.Run(target, new FuzzRunOptions { Seed = Seed, Iterations = Iterations, Duration = Cap });
        output.WriteLine(report.ToString());
        Assert.True(report.Findings.Count == 0, FuzzRunner.Format([report]));
        // A loaded machine may reach the time cap early; top up to the minimum by count, not by time,
        // so the test never passes on a handful of inputs and never fails on a slow clock.
        if (report.Generated < MinimumIterations)
        {
            var topUp = FuzzRunner.Run(target, new FuzzRunOptions
            {
                Seed = Seed + 1, Iterations = MinimumIterations - report.Generated, Duration = TimeSpan.FromMinutes(10),
            });
            output.WriteLine(topUp.ToString());
            Assert.True(topUp.Findings.Count == 0, FuzzRunner.Format([topUp]));
            Assert.True(report.Generated + topUp.Generated >= MinimumIterations, $"only {report.Generated + topUp.Generated} inputs ran: {topUp}");
        }
    }

    [Fact]
    public void EveryTargetHasABoundedFuzzTest()
    {
        var targets = new[] { typeof(StreamKit.Wire.ChunkReader).Assembly, typeof(FuzzRunner).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => t.IsClass && typeof(IFuzzTarget).IsAssignableFrom(t))
            .ToList();
        Assert.True(targets.Count >= 7, $"found only {targets.Count} fuzz targets");
        var tested = typeof(FuzzTargetTests).GetMethods()
            .Where(m => m.GetCustomAttribute<FactAttribute>() is not null)
            .Select(m => m.GetCustomAttribute<FuzzTargetTestAttribute>()?.Target)
            .OfType<Type>()
            .ToHashSet();
        var catalogued = FuzzTargetCatalog.All.Select(t => t.Type).ToHashSet();
        foreach (var target in targets)
        {
            Assert.True(tested.Contains(target), $"fuzz target {target.Name} has no [Fact, FuzzTargetTest(typeof({target.Name}))] test in FuzzTargetTests");
            Assert.True(catalogued.Contains(target), $"fuzz target {target.Name} is missing from FuzzTargetCatalog.All");
        }
        Assert.Equal(FuzzTargetCatalog.All.Count, FuzzTargetCatalog.All.Select(t => t.Name).Distinct().Count());
    }
}
