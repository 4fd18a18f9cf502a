using StreamKit.LabTests;
using Xunit;
using Xunit.Abstractions;

namespace StreamKit.Tests.Lab;

/// <summary>
/// Real VFIO migration against the kernel's mtty devices in the VFIO lab (a Linux 6.12 guest under qemu).
/// The guest boots once for the class; each lab check is one test row. Skipped visibly without qemu or the lab.
/// </summary>
public sealed class VfioLabTests(VfioLabRun lab, ITestOutputHelper output) : IClassFixture<VfioLabRun>
{
    /// <summary>Every check the lab program runs (shared list, linked from tests/StreamKit.LabTests).</summary>
    public static TheoryData<string> CheckNames => new(LabCheckNames.All);

    [VfioLabTheory]
    [MemberData(nameof(CheckNames))]
    public void LabCheckPasses(string check)
    {
        var result = Usable(lab.Get());
        Assert.True(result.Checks.TryGetValue(check, out var outcome),
            $"lab check {check} printed no PASS/FAIL line (exit {result.ExitCode}); log tail:\n{Tail(result.Log)}");
        Assert.True(outcome.Passed, $"FAIL {check}: {outcome.Text}");
        output.WriteLine($"PASS {check}: {outcome.Text}");
    }

    [VfioLabFact]
    public void LabRunPassesAsAWhole()
    {
        var result = Usable(lab.Get());
        foreach (string line in result.CheckLines) output.WriteLine(line);
        output.WriteLine($"{result.Summary} (whole run incl. guest boot: {result.Duration.TotalSeconds:0.0} s, exit {result.ExitCode})");
        var failed = result.Checks.Where(c => !c.Value.Passed).Select(c => $"{c.Key}: {c.Value.Text}").ToList();
        Assert.True(failed.Count == 0, "lab checks failed:\n" + string.Join("\n", failed));
        var unlisted = result.Checks.Keys.Except(LabCheckNames.All).ToList();
        Assert.True(unlisted.Count == 0, "checks not in LabCheckNames: " + string.Join(", ", unlisted));
        Assert.Equal(LabCheckNames.All.Count(), result.Checks.Count);
        Assert.Equal(0, result.ExitCode);
    }

    private static LabRun.Result Usable(LabRun.Result result)
    {
        Assert.True(result.Problem is null, $"{result.Problem}; log tail:\n{Tail(result.Log)}");
        return result;
    }

    private static string Tail(string log) => string.Join("\n", log.Split('\n').TakeLast(40));
}
