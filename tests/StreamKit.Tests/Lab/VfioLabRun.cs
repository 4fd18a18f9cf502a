using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace StreamKit.Tests.Lab;

/// <summary>
/// One boot of the VFIO lab for the whole test class: <c>run.sh --timeout 600 -- dotnet StreamKit.LabTests.dll</c>,
/// started on first use (so a skipped class boots nothing), its PASS/FAIL lines parsed.
/// </summary>
public sealed class VfioLabRun() : LabRun(rdma: false);

/// <summary>One boot of the lab with <c>--rdma</c> (soft-RoCE) running StreamKit.RdmaLabTests.dll.</summary>
public sealed class RdmaLabRun() : LabRun(rdma: true);

/// <summary>A lab boot running one check program; see <see cref="VfioLabRun"/> and <see cref="RdmaLabRun"/>.</summary>
public abstract partial class LabRun
{
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(960);
    private readonly Lazy<Result> _result;

    private protected LabRun(bool rdma) =>
        _result = new(() => Run(rdma), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>What one lab run produced.</summary>
    public sealed record Result(int ExitCode, IReadOnlyDictionary<string, (bool Passed, string Text)> Checks,
        IReadOnlyList<string> CheckLines, string? Summary, string Log, TimeSpan Duration, string? Problem);

    /// <summary>Boots the lab (once) and returns its result.</summary>
    public Result Get() => _result.Value;

    [GeneratedRegex(@"^(PASS|FAIL) ([A-Za-z0-9_.-]+)(?:: ?(.*))?$")]
    private static partial Regex CheckLine();

    private static Result Run(bool rdma)
    {
        var env = rdma ? VfioLabEnvironment.GetRdma() : VfioLabEnvironment.Get();
        var empty = new Dictionary<string, (bool, string)>();
        if (env.SkipReason is { } skip) return new Result(-1, empty, [], null, "", TimeSpan.Zero, skip);
        if (!File.Exists(env.LabProgram))
            return new Result(-1, empty, [], null, "", TimeSpan.Zero,
                $"the lab program is not built at {env.LabProgram} (tests/StreamKit.Tests references it; build the solution)");

        var start = new ProcessStartInfo(env.RunScript)
        {
            WorkingDirectory = env.RepoRoot, // run.sh runs the command here inside the guest
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        string[] args = rdma
            ? ["--timeout", "900", "--rdma", "--", env.DotnetHost, env.LabProgram]
            : ["--timeout", "600", "--", env.DotnetHost, env.LabProgram];
        foreach (string arg in args) start.ArgumentList.Add(arg);

        var log = new StringBuilder();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string? problem = null;
        if (!process.WaitForExit(Watchdog))
        {
            process.Kill(entireProcessTree: true);
            problem = $"the lab run did not finish within {Watchdog.TotalSeconds:0} s";
        }
        process.WaitForExit(); // drain the output handlers
        clock.Stop();

        string text;
        lock (log) text = log.ToString();
        var checks = new Dictionary<string, (bool, string)>();
        var lines = new List<string>();
        string? summary = null;
        foreach (string line in text.Split('\n'))
        {
            string l = line.TrimEnd('\r');
            if (CheckLine().Match(l) is { Success: true } m)
            {
                checks[m.Groups[2].Value] = (m.Groups[1].Value == "PASS", m.Groups[3].Value);
                lines.Add(l);
            }
            else if ((l.StartsWith("lab: ", StringComparison.Ordinal) || l.StartsWith("rdma lab: ", StringComparison.Ordinal))
                     && l.Contains(" passed, ", StringComparison.Ordinal))
            {
                summary = l;
            }
        }
        if (problem is null && summary is null)
            problem = $"the lab run printed no summary (exit {process.ExitCode})";
        return new Result(process.ExitCode, checks, lines, summary, text, clock.Elapsed, problem);
    }
}
