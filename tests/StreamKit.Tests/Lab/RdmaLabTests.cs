using Xunit;
using Xunit.Abstractions;

namespace StreamKit.Tests.Lab;

/// <summary>
/// The RDMA transport over a real soft-RoCE device (rxe0) in the lab guest: one boot with
/// <c>run.sh --rdma</c> running tests/StreamKit.RdmaLabTests. Skipped visibly without qemu, the lab
/// or the RDMA packages (ibverbs-providers, librdmacm1).
/// </summary>
public sealed class RdmaLabTests(RdmaLabRun lab, ITestOutputHelper output) : IClassFixture<RdmaLabRun>
{
    // The checks every run must print (the program's default list); new checks may be added there.
    private static readonly string[] RequiredChecks =
    [
        "library-missing", "device-present", "connect-refused", "connect-loopback-typed", "handshake-preamble",
        "transfer-1ch", "transfer-2ch", "flow-control-slow-receiver", "stream-adapter",
        "peer-closes-mid-stream", "peer-dies-mid-stream",
    ];

    [RdmaLabFact]
    public void RdmaLabChecksPass()
    {
        var result = lab.Get();
        Assert.True(result.Problem is null, $"{result.Problem}; log tail:\n{Tail(result.Log)}");
        foreach (string line in result.CheckLines) output.WriteLine(line);
        output.WriteLine($"{result.Summary} (whole run incl. guest boot: {result.Duration.TotalSeconds:0.0} s, exit {result.ExitCode})");
        var missing = RequiredChecks.Where(name => !result.Checks.ContainsKey(name)).ToList();
        Assert.True(missing.Count == 0, "checks that printed no PASS/FAIL line: " + string.Join(", ", missing) + "\n" + Tail(result.Log));
        var failed = result.Checks.Where(c => !c.Value.Passed).Select(c => $"{c.Key}: {c.Value.Text}").ToList();
        Assert.True(failed.Count == 0, "RDMA lab checks failed:\n" + string.Join("\n", failed));
        Assert.Equal(0, result.ExitCode);
    }

    private static string Tail(string log) => string.Join("\n", log.Split('\n').TakeLast(60));
}
