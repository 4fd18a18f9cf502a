using StreamKit.RdmaLabTests;
using Xunit;
using Xunit.Abstractions;

namespace StreamKit.Tests.Lab;

/// <summary>
/// The RDMA transport over a real soft-RoCE device (rxe0) in the lab guest: one boot with
/// <c>run.sh --rdma</c> running tests/StreamKit.RdmaLabTests; each lab check is one test row
/// (names shared with the program through <see cref="RdmaLabCheckNames"/>). Skipped visibly
/// without qemu, the lab or the RDMA packages (ibverbs-providers, librdmacm1).
/// </summary>
public sealed class RdmaLabTests(RdmaLabRun lab, ITestOutputHelper output) : IClassFixture<RdmaLabRun>
{
    /// <summary>Every check the RDMA lab program runs.</summary>
    public static TheoryData<string> CheckNames => new(RdmaLabCheckNames.All);

    [RdmaLabTheory]
    [MemberData(nameof(CheckNames))]
    public void RdmaLabCheckPasses(string check)
    {
        var result = Usable(lab.Get());
        Assert.True(result.Checks.TryGetValue(check, out var outcome),
            $"RDMA lab check {check} printed no PASS/FAIL line (exit {result.ExitCode}); log tail:\n{Tail(result.Log)}");
        Assert.True(outcome.Passed, $"FAIL {check}: {outcome.Text}\n{string.Join("\n", Details(result, check).Take(80))}");
        output.WriteLine($"PASS {check}");
        foreach (string line in Details(result, check)) output.WriteLine(line);
    }

    [RdmaLabFact]
    public void RdmaLabRunPassesAsAWhole()
    {
        var result = Usable(lab.Get());
        foreach (string line in result.CheckLines) output.WriteLine(line);
        output.WriteLine($"{result.Summary} (whole run incl. guest boot: {result.Duration.TotalSeconds:0.0} s, exit {result.ExitCode})");
        var failed = result.Checks.Where(c => !c.Value.Passed).Select(c => $"{c.Key}: {c.Value.Text}").ToList();
        Assert.True(failed.Count == 0, "RDMA lab checks failed:\n" + string.Join("\n", failed));
        var unlisted = result.Checks.Keys.Except(RdmaLabCheckNames.All).ToList();
        Assert.True(unlisted.Count == 0, "checks not in RdmaLabCheckNames: " + string.Join(", ", unlisted));
        Assert.Equal(RdmaLabCheckNames.All.Length, result.Checks.Count);
        Assert.Equal(0, result.ExitCode);
    }

    /// <summary>The indented detail lines the program printed under a check's PASS or FAIL line (a failure's are its exception).</summary>
    private static IEnumerable<string> Details(LabRun.Result result, string check)
    {
        var lines = result.Log.Split('\n');
        int start = Array.FindIndex(lines, l => l.TrimEnd() == $"PASS {check}" || l.StartsWith($"FAIL {check}:", StringComparison.Ordinal));
        if (start < 0) yield break;
        for (int i = start + 1; i < lines.Length && lines[i].StartsWith("    ", StringComparison.Ordinal); i++) yield return lines[i].TrimEnd();
    }

    private static LabRun.Result Usable(LabRun.Result result)
    {
        Assert.True(result.Problem is null, $"{result.Problem}; log tail:\n{Tail(result.Log)}");
        return result;
    }

    private static string Tail(string log) => string.Join("\n", log.Split('\n').TakeLast(60));
}
