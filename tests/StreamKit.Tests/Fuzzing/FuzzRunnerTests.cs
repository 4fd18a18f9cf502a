using StreamKit.Transport.Fuzzing;
using StreamKit.Wire.Fuzzing;
using Xunit;

namespace StreamKit.Tests.Fuzzing;

public sealed class FuzzRunnerTests
{
    private static FuzzTargetInfo Planted(FuzzAction fuzz) => new("planted", typeof(FuzzRunnerTests), fuzz, (seed, i) => [(byte)(i % 10), (byte)seed]);

    [Fact]
    public void AFindingCarriesItsInputAndHowToReproduceIt()
    {
        var target = Planted(input =>
        {
            if (input[0] == 7) throw new InvalidOperationException("seven");
        });
        var report = FuzzRunner.Run(target, new FuzzRunOptions { Seed = 42, Iterations = 25, MaxFindings = 2 });
        Assert.Equal(2, report.Findings.Count);
        var first = report.Findings[0];
        Assert.Equal((42UL, 7L, "InvalidOperationException", "072A"), (first.Seed, first.Iteration, first.Kind, first.InputHex));
        Assert.Equal("[0x07, 0x2A]", first.CSharpLiteral);
        Assert.Contains("seven", first.Message);
        Assert.Equal(17, report.Findings[1].Iteration);
        Assert.Contains("seed 42 iteration 7", FuzzRunner.Format([report]));
    }

    [Fact]
    public void AHangIsReportedInsteadOfHangingTheRun()
    {
        var release = new ManualResetEventSlim();
        var target = Planted(input =>
        {
            if (input[0] == 3) release.Wait(TimeSpan.FromSeconds(60));
        });
        try
        {
            var report = FuzzRunner.Run(target, new FuzzRunOptions { Seed = 1, Iterations = 100, CallTimeLimit = TimeSpan.FromMilliseconds(300) });
            var hang = Assert.Single(report.Findings);
            Assert.Equal("hang", hang.Kind);
            Assert.Equal(3, hang.Iteration);
            Assert.True(report.Abandoned);
            Assert.Equal(3, report.Generated);
        }
        finally
        {
            release.Set(); // lets the abandoned thread finish
        }
    }

    [Fact]
    public void TheAllocationBoundCatchesALengthSizedAllocation()
    {
        var target = Planted(input =>
        {
            var meter = AllocationMeter.Start();
            var buffer = new byte[input[0] * 1024 * 1024]; // sized by an "unchecked length field"
            GC.KeepAlive(buffer);
            meter.Check("planted", 64 * 1024, "decoding");
        });
        var report = FuzzRunner.Run(target, new FuzzRunOptions { Iterations = 10, MaxFindings = 1, WarmupInputs = 0 });
        var finding = Assert.Single(report.Findings);
        Assert.Equal(1, finding.Iteration);
        Assert.Equal(nameof(FuzzInvariantException), finding.Kind);
        Assert.Contains("allocated", finding.Message);
    }

    [Fact]
    public void DurationStopsAnEndlessRun()
    {
        var report = FuzzRunner.Run(Planted(_ => Thread.Sleep(1)), new FuzzRunOptions { Duration = TimeSpan.FromMilliseconds(300) });
        Assert.Empty(report.Findings);
        Assert.InRange(report.Generated, 1, 100_000);
        Assert.True(report.ExecutionsPerSecond > 0);
    }

    [Fact]
    public void StreamCasesAreWrittenAsChannelFilesWithDescriptions()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"streamkit-cases-{Guid.NewGuid():N}");
        try
        {
            var generator = new MalformedStreamGenerator();
            Assert.Equal(4, FuzzRunner.WriteStreamCases(generator, dir, seed: 3, count: 4));
            var lines = File.ReadAllLines(Path.Combine(dir, "cases.txt"));
            Assert.Equal(4, lines.Length);
            for (long i = 0; i < 4; i++)
            {
                var c = generator.Generate(3, i);
                Assert.Equal(c.Description, lines[i]);
                for (int ch = 0; ch < c.Channels.Count; ch++) Assert.Equal(c.Channels[ch], File.ReadAllBytes(Path.Combine(dir, $"3-{i:D6}.{ch}.bin")));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CorpusFilesAreWrittenReadAndReplayedFirst()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"streamkit-corpus-{Guid.NewGuid():N}");
        try
        {
            var target = FuzzTargetCatalog.Find("CHUNK-READER");
            Assert.Equal(6, FuzzRunner.WriteCorpus(target, dir, seed: 5, count: 6));
            var files = FuzzRunner.ReadCorpus(dir).ToList();
            Assert.Equal(6, files.Count);
            Assert.Equal(target.Generate(5, 0), files[0].Input);
            Assert.EndsWith("5-000000.bin", files[0].File);

            var seen = new List<string>();
            var replay = FuzzRunner.Run(Planted(input => seen.Add(Convert.ToHexString(input))), new FuzzRunOptions { Iterations = 1, CorpusDirectories = [dir], WarmupInputs = 0 });
            Assert.Equal((6L, 1L), (replay.CorpusInputs, replay.Generated));
            Assert.Equal(Convert.ToHexString(files[0].Input), seen[0]);
            Assert.Throws<ArgumentException>(() => FuzzTargetCatalog.Find("no-such-target"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
