using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StreamKit.Transport;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit fuzz</c>, three modes:
/// <list type="bullet">
/// <item><c>streamkit fuzz NAME|all [--seconds S] [--iterations N] [--seed N]</c>: runs in-process fuzz targets
/// (<see cref="FuzzTargetCatalog"/>) with <see cref="FuzzRunner"/>; reports executions per second and every
/// finding with its (seed, iteration) and input. Exit 0 without findings, 1 with.</item>
/// <item><c>--corpus DIR [NAME]</c>: writes generated cases as files: with a target name, that target's inputs;
/// without, malformed forward streams as channel files plus <c>cases.txt</c> (for hardening any receiver).</item>
/// <item><c>--target tcp://host:port</c>: sends generated malformed streams to a live receiver (anyone's) with
/// <see cref="ReceiverProbe"/> and reports how it answered each (closed, reset, ERROR with code, FINAL_ACK, timed out).</item>
/// </list>
/// Everything is a pure function of <c>--seed</c> and the iteration: a run, a case and a finding reproduce.
/// </summary>
internal static class FuzzCommand
{
    private const int DefaultCount = 100;
    private static readonly MalformedStreamGenerator Generator = new();

    internal static Command Create()
    {
        var name = new Argument<string?>("NAME")
        {
            Description = "In-process fuzz target, or 'all' (" + string.Join(", ", FuzzTargetCatalog.All.Select(t => t.Name)) + ").",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var targetName = new Option<string?>("--target-name") { Description = "Same as NAME.", HelpName = "NAME" };
        var seconds = new Option<double?>("--seconds") { Description = "In-process: time per target (default 10 s unless --iterations is given).", HelpName = "S" };
        var iterations = new Option<long?>("--iterations", "-n")
        {
            Description = $"In-process: generated inputs per target. With --corpus or --target: cases to write or send (default {DefaultCount}).",
            HelpName = "N",
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the generated inputs; (seed, iteration) reproduces each (default 1).", DefaultValueFactory = _ => 1 };
        var callLimit = new Option<double>("--call-limit")
        {
            Description = "In-process: a call taking longer is a finding (\"slow\", or \"hang\" if it never returns); default 10 s.",
            DefaultValueFactory = _ => 10,
            HelpName = "S",
        };
        var start = new Option<long>("--start") { Description = "First iteration (to resume, or to reproduce one case with -n 1).", HelpName = "I" };
        var corpus = new Option<string?>("--corpus") { Description = "Write generated cases into DIR instead of running them.", HelpName = "DIR" };
        var target = new Option<string?>("--target")
        {
            Description = "Send malformed streams to the live receiver at tcp://host:port (or unix:/path) and report how it answered each.",
            HelpName = "URI",
        };
        var focus = new Option<string>("--focus")
        {
            Description = "--corpus/--target: mutations to prefer: any, preamble, header, payload, structure, bytes.",
            DefaultValueFactory = _ => "any",
        };
        focus.AcceptOnlyFromAmong("any", "preamble", "header", "payload", "structure", "bytes");
        var answerTimeout = new Option<double>("--answer-timeout")
        {
            Description = "--target: seconds to wait for the receiver's answer to one case (default 5).",
            DefaultValueFactory = _ => 5,
            HelpName = "S",
        };
        var json = CommonOptions.Json();
        var command = new Command("fuzz", "Fuzz StreamKit's parsers and receiver in-process, write malformed-stream cases, or send them to a live receiver " +
                                          "(--target) to see how it answers. Reproducible by --seed. Exit codes: 0 nothing was found, 1 findings, 2 usage error.")
        {
            name, targetName, seconds, iterations, seed, callLimit, start, corpus, target, focus, answerTimeout, json,
        };
        command.SetAction(async (parse, _) =>
        {
            string? chosen = (parse.GetValue(name), parse.GetValue(targetName)) switch
            {
                ({ } a, { } b) when a != b => throw new CliUsageException($"NAME '{a}' and --target-name '{b}' disagree"),
                (var a, var b) => a ?? b,
            };
            ulong seedValue = parse.GetValue(seed);
            long first = parse.GetValue(start);
            long? count = parse.GetValue(iterations);
            if (count is < 0) throw new CliUsageException("--iterations must be ≥ 0");
            if (first < 0) throw new CliUsageException("--start must be ≥ 0");
            var mutationFocus = Enum.Parse<MutationFocus>(parse.GetValue(focus)!, ignoreCase: true);
            bool asJson = parse.GetValue(json);
            if (parse.GetValue(target) is { } uri)
            {
                if (chosen is not null || parse.GetValue(corpus) is not null)
                    throw new CliUsageException("--target sends generated streams to a receiver: it takes no NAME and no --corpus");
                var address = MigrationRuns.Address(uri, "--target");
                return await ProbeAsync(address, seedValue, first, (int)Math.Min(count ?? DefaultCount, int.MaxValue), mutationFocus,
                    TimeSpan.FromSeconds(parse.GetValue(answerTimeout)), asJson).ConfigureAwait(false);
            }
            if (parse.GetValue(corpus) is { } directory)
                return WriteCorpus(directory, chosen is null ? null : Find(chosen), seedValue, first, (int)Math.Min(count ?? DefaultCount, int.MaxValue), mutationFocus, asJson);
            if (chosen is null) throw new CliUsageException("name a fuzz target (or 'all'), or give --corpus DIR or --target URI");
            double? time = parse.GetValue(seconds);
            if (time is <= 0) throw new CliUsageException("--seconds must be positive");
            double limit = parse.GetValue(callLimit);
            if (limit <= 0) throw new CliUsageException("--call-limit must be positive");
            var targets = chosen == "all" ? FuzzTargetCatalog.All : [Find(chosen)];
            return RunTargets(targets, new FuzzRunOptions
            {
                Seed = seedValue,
                StartIteration = first,
                Iterations = count ?? long.MaxValue,
                Duration = TimeSpan.FromSeconds(time ?? (count is null ? 10 : 24 * 3600)),
                CallTimeLimit = TimeSpan.FromSeconds(limit),
            }, asJson);
        });
        return command;
    }

    private static FuzzTargetInfo Find(string name)
    {
        try
        {
            return FuzzTargetCatalog.Find(name);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message.Split(" (Parameter")[0]);
        }
    }

    private static int RunTargets(IReadOnlyList<FuzzTargetInfo> targets, FuzzRunOptions options, bool json)
    {
        int findings = 0;
        foreach (var target in targets)
        {
            var report = FuzzRunner.Run(target, options);
            findings += report.Findings.Count;
            if (json)
            {
                JsonLines.Write("fuzz", w =>
                {
                    w.WriteString("target", report.Target);
                    w.WriteNumber("seed", report.Seed);
                    w.WriteNumber("executions", report.Executions);
                    w.WriteNumber("seconds", Math.Round(report.Elapsed.TotalSeconds, 3));
                    w.WriteNumber("execs_per_second", Math.Round(report.ExecutionsPerSecond, 1));
                    w.WriteNumber("slowest_ms", Math.Round(report.SlowestCall.TotalMilliseconds, 1));
                    w.WriteBoolean("hung", report.Abandoned);
                    w.WriteStartArray("findings");
                    foreach (var f in report.Findings) WriteFinding(w, f);
                    w.WriteEndArray();
                });
            }
            else
            {
                Console.Out.WriteLine(report.ToString());
                foreach (var f in report.Findings) Console.Out.WriteLine(f.ToString());
            }
        }
        if (json)
            JsonLines.Write("result", w =>
            {
                w.WriteBoolean("ok", findings == 0);
                w.WriteNumber("exit_code", findings == 0 ? ExitCodes.Success : ExitCodes.MigrationFailed);
                w.WriteNumber("findings", findings);
            });
        return findings == 0 ? ExitCodes.Success : ExitCodes.MigrationFailed;
    }

    private static void WriteFinding(Utf8JsonWriter w, FuzzFinding f)
    {
        w.WriteStartObject();
        w.WriteString("kind", f.Kind);
        w.WriteNumber("iteration", f.Iteration);
        if (f.CorpusFile is not null) w.WriteString("file", f.CorpusFile);
        w.WriteString("message", f.Message.Split('\n')[0]);
        w.WriteNumber("input_bytes", f.Input.Length);
        w.WriteString("input_hex", f.Input.Length <= 65536 ? f.InputHex : "");
        w.WriteEndObject();
    }

    private static int WriteCorpus(string directory, FuzzTargetInfo? target, ulong seed, long first, int count, MutationFocus focus, bool json)
    {
        try
        {
            if (target is not null) FuzzRunner.WriteCorpus(target, directory, seed, count, first);
            else FuzzRunner.WriteStreamCases(Generator, directory, seed, count, first, focus);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--corpus {directory}: {e.Message}");
        }
        string what = target is null ? "malformed forward streams (channel files <seed>-<iteration>.<channel>.bin, descriptions in cases.txt)" : $"{target.Name} inputs";
        if (json)
            JsonLines.Write("result", w =>
            {
                w.WriteBoolean("ok", true);
                w.WriteNumber("exit_code", ExitCodes.Success);
                w.WriteString("directory", Path.GetFullPath(directory));
                w.WriteString("kind", target?.Name ?? "streams");
                w.WriteNumber("cases", count);
            });
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {count} {what} into {Path.GetFullPath(directory)}"));
        return ExitCodes.Success;
    }

    private static async Task<int> ProbeAsync(TransportAddress address, ulong seed, long first, int count, MutationFocus focus, TimeSpan answerTimeout, bool json)
    {
        if (address.Scheme is not (TransportScheme.Tcp or TransportScheme.Unix))
            throw new CliUsageException($"--target must be tcp://host:port or unix:/path, not {address}");
        var options = new ReceiverProbeOptions { Target = address, Seed = seed, StartIteration = first, Count = count, Focus = focus, AnswerTimeout = answerTimeout };
        var progress = new Progress(json);
        var results = await ReceiverProbe.RunAsync(options, progress, ProcessSignals.Token).ConfigureAwait(false);
        var tally = results.GroupBy(r => r.Answer).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(), g => g.Count());
        int agree = results.Count(r => r.AgreesWithReference);
        if (json)
        {
            JsonLines.Write("result", w =>
            {
                w.WriteBoolean("ok", true);
                w.WriteNumber("exit_code", ExitCodes.Success);
                w.WriteString("target", address.ToString());
                w.WriteNumber("cases", results.Count);
                w.WriteStartObject("answers");
                foreach (var (k, v) in tally) w.WriteNumber(k, v);
                w.WriteEndObject();
                w.WriteNumber("agree_with_reference", agree);
            });
        }
        else
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{results.Count} case(s) to {address}: {string.Join(", ", tally.Select(t => $"{t.Key} {t.Value}"))}; {agree} agree with the reference validator"));
        }
        return ExitCodes.Success;
    }

    /// <summary>Prints each probed case as it completes (the probe reports on its own thread; lines are written whole).</summary>
    private sealed class Progress(bool json) : IProgress<ProbeResult>
    {
        public void Report(ProbeResult r)
        {
            if (!json)
            {
                Console.Out.WriteLine(r.ToString());
                return;
            }
            JsonLines.Write("case", w =>
            {
                w.WriteNumber("iteration", r.Iteration);
                w.WriteString("answer", r.Answer.ToString());
                if (r.Answer is ProbeAnswer.Error or ProbeAnswer.FinalAckFailure)
                {
                    w.WriteString("code", r.Code.ToString());
                    w.WriteNumber("code_value", (uint)r.Code);
                }
                if (r.Text is not null) w.WriteString("text", r.Text);
                w.WriteString("reference", r.Reference?.ToString() ?? "valid");
                w.WriteBoolean("agrees", r.AgreesWithReference);
                w.WriteNumber("channels", r.Channels);
                w.WriteNumber("connected", r.Connected);
                w.WriteNumber("elapsed_ms", Math.Round(r.Elapsed.TotalMilliseconds, 1));
                if (r.Detail is not null) w.WriteString("detail", r.Detail);
                w.WriteString("description", r.Description);
            });
        }
    }
}
