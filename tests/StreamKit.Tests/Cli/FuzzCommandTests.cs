using System.Text.Json;
using StreamKit.Device;
using StreamKit.Tests.Sessions;
using StreamKit.Transport;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>
/// <c>streamkit fuzz</c> as a real process: in-process targets by name with counts and findings,
/// <c>--corpus</c> reproducible by seed, and <c>--target</c> against a real <see cref="MigrationReceiver"/>
/// on loopback whose own verdict the command's report must match.
/// </summary>
public sealed class FuzzCommandTests
{
    [Fact]
    public async Task ATargetRunsForTheGivenIterationsAndReportsItsRate()
    {
        await using var p = await StreamkitProcess.RunAsync("fuzz", "chunk-header", "--iterations", "400", "--seed", "7", "--json");
        p.AssertExit(0);
        var fuzz = p.LastEvent("fuzz");
        Assert.Equal("chunk-header", fuzz.GetProperty("target").GetString());
        Assert.Equal(7UL, fuzz.GetProperty("seed").GetUInt64());
        Assert.True(fuzz.GetProperty("executions").GetInt64() >= 400, fuzz.ToString());
        Assert.True(fuzz.GetProperty("execs_per_second").GetDouble() > 0);
        Assert.Equal(0, fuzz.GetProperty("findings").GetArrayLength());
        Assert.True(p.LastEvent("result").GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task TheTargetNameMayBeGivenAsAnOptionAndTextOutputNamesTheRate()
    {
        await using var p = await StreamkitProcess.RunAsync("fuzz", "--target-name", "receiver-session", "-n", "20", "--seed", "3");
        p.AssertExit(0);
        Assert.Contains("receiver-session", p.Stdout);
        Assert.Contains("execs/s", p.Stdout);
        Assert.Contains("0 finding(s)", p.Stdout);
    }

    [Fact]
    public async Task AnUnknownTargetIsAUsageError()
    {
        await using var p = await StreamkitProcess.RunAsync("fuzz", "no-such-target");
        p.AssertExit(2);
        Assert.Contains("receiver-session", p.Stderr); // the message lists the targets
    }

    [Fact]
    public async Task CorpusCasesAreAPureFunctionOfTheSeed()
    {
        string Dir() => Path.Combine(Path.GetTempPath(), $"sk-fuzz-{Guid.NewGuid():N}");
        string a = Dir(), b = Dir(), c = Dir();
        try
        {
            foreach (var (dir, seed) in new[] { (a, "11"), (b, "11"), (c, "12") })
            {
                await using var p = await StreamkitProcess.RunAsync("fuzz", "--corpus", dir, "-n", "12", "--seed", seed, "--json");
                p.AssertExit(0);
                Assert.Equal(12, p.LastEvent("result").GetProperty("cases").GetInt32());
            }
            Assert.Equal(12, File.ReadAllLines(Path.Combine(a, "cases.txt")).Length);
            var filesA = Directory.GetFiles(a, "*.bin").Select(Path.GetFileName).Order().ToArray();
            Assert.True(filesA.Length >= 12, $"{filesA.Length} channel files");
            Assert.Equal(filesA, Directory.GetFiles(b, "*.bin").Select(Path.GetFileName).Order());
            foreach (var f in filesA) Assert.Equal(File.ReadAllBytes(Path.Combine(a, f!)), File.ReadAllBytes(Path.Combine(b, f!)));
            Assert.NotEqual(File.ReadAllText(Path.Combine(a, "cases.txt")), File.ReadAllText(Path.Combine(c, "cases.txt")));
            // Each written forward stream is what the generator made for (seed, iteration): the library reproduces the files.
            var again = new StreamKit.Wire.Fuzzing.MalformedStreamGenerator().Generate(11, 3);
            for (int ch = 0; ch < again.Channels.Count; ch++)
                Assert.Equal(again.Channels[ch], File.ReadAllBytes(Path.Combine(a, $"b-000003.{ch}.bin")));
        }
        finally
        {
            foreach (var d in new[] { a, b, c }) if (Directory.Exists(d)) Directory.Delete(d, true);
        }
    }

    [Fact]
    public async Task CorpusForANamedTargetWritesItsInputs()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"sk-fuzz-{Guid.NewGuid():N}");
        try
        {
            await using var p = await StreamkitProcess.RunAsync("fuzz", "preamble", "--corpus", dir, "-n", "5", "--seed", "4");
            p.AssertExit(0);
            var files = Directory.GetFiles(dir).Order().ToArray();
            Assert.Equal(5, files.Length);
            Assert.Equal(FuzzTargetCatalog.Find("preamble").Generate(4, 0), File.ReadAllBytes(files[0]));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    private const ulong ProbeSeed = 20260815;

    /// <summary>The first three cases that announce a return path (the receiver can answer ERROR) and the first two that do not.</summary>
    public static TheoryData<long> ProbeIterations()
    {
        var generator = new StreamKit.Wire.Fuzzing.MalformedStreamGenerator();
        var withReturnPath = new List<long>();
        var without = new List<long>();
        for (long i = 0; (withReturnPath.Count < 3 || without.Count < 2) && i < 500; i++)
        {
            var c = generator.Generate(ProbeSeed, i);
            bool returnPath;
            try { returnPath = (Preamble.Decode(c.Channels[0]).Capabilities & StreamCapabilities.ReturnPath) != 0; }
            catch (StreamFormatException) { continue; }
            (returnPath ? withReturnPath : without).Add(i);
        }
        var data = new TheoryData<long>();
        foreach (long i in withReturnPath.Take(3).Concat(without.Take(2))) data.Add(i);
        return data;
    }

    /// <summary>
    /// One malformed case per fresh receiver (a MigrationReceiver takes one stream): the command's report of
    /// the answer must be what the receiver itself threw, and the receiver must have kept the failure rule.
    /// </summary>
    [Theory]
    [MemberData(nameof(ProbeIterations))]
    public async Task TargetModeReportsHowALiveReceiverAnsweredEachCase(long iteration)
    {
        var ct = SessionTestKit.Deadline(90);
        var destinations = Enumerable.Range(1, 3).Select(i => SimulatedDevice.Create($"sim:profile=mtty,seed={i},state=blank")).ToArray();
        var before = destinations.Select(d => d.StateDigest).ToArray();
        await using var receiver = new MigrationReceiver(SessionTestKit.Receiver());
        for (int i = 0; i < destinations.Length; i++) receiver.AddDevice((ushort)(i + 1), destinations[i]);
        await receiver.ListenAsync(TransportAddress.Tcp("127.0.0.1", 0), ct);
        var run = SessionTestKit.Capture(receiver.RunAsync(ct));
        await using var p = await StreamkitProcess.RunAsync("fuzz", "--target", $"tcp://127.0.0.1:{receiver.BoundAddress!.Port}",
            "--seed", ProbeSeed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--start", iteration.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", "1", "--answer-timeout", "10", "--json");
        p.AssertExit(0);
        var (result, error) = await run;
        var report = p.LastEvent("case");
        string answer = report.GetProperty("answer").GetString()!;
        Assert.Equal(1, p.LastEvent("result").GetProperty("cases").GetInt32());
        if (error is null)
        {
            // The receiver committed: only possible for a case the reference validator calls valid.
            Assert.NotNull(result);
            Assert.Equal("FinalAck", answer);
            Assert.Equal("valid", report.GetProperty("reference").GetString());
            return;
        }
        var m = Assert.IsType<MigrationException>(error);
        Assert.All(destinations.Zip(before), d => Assert.Equal(MigrationState.Running, d.First.GetState()));
        Assert.All(destinations.Zip(before), d => Assert.Equal(d.Second, d.First.StateDigest));
        if (answer == "Error")
            Assert.Equal(m.Code.ToString(), report.GetProperty("code").GetString());
        else
            Assert.Contains(answer, new[] { "Closed", "Reset" }); // no return path in that case: the receiver can only close
        Assert.NotEqual(StreamErrorCode.None, m.Code);
        Assert.Equal(JsonValueKind.String, report.GetProperty("description").ValueKind);
    }
}
