using System.Diagnostics;
using System.Globalization;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// Runs fuzz targets over corpus files and generated inputs for a number of iterations and/or a time,
/// from tests and from <c>streamkit fuzz</c>. The target runs on its own thread while the caller's
/// thread watches the clock: a call over <see cref="FuzzRunOptions.CallTimeLimit"/> is recorded as a
/// hang with its input and the thread is abandoned (it cannot be stopped), so a hang fails the run
/// instead of the run hanging. Every finding carries the input and the (seed, iteration) or file.
/// </summary>
internal static class FuzzRunner
{
    private sealed class RunState
    {
        internal long CallStarted; // Stopwatch ticks; 0 while not inside a call
        internal byte[] Input = [];
        internal long Iteration;
        internal string? File;
        internal volatile bool Stop;
        internal readonly object Gate = new();
    }

    /// <summary>Runs <paramref name="target"/> as <paramref name="options"/> say; never throws for a finding.</summary>
    internal static FuzzTargetReport Run(FuzzTargetInfo target, FuzzRunOptions options)
    {
        var report = new FuzzTargetReport { Target = target.Name, Seed = options.Seed };
        var state = new RunState();
        var clock = Stopwatch.StartNew();
        var deadline = options.Duration is { } d ? clock.Elapsed + d : TimeSpan.MaxValue;
        var worker = new Thread(() => Work(target, options, report, state, clock, deadline), 16 * 1024 * 1024)
        {
            IsBackground = true,
            Name = $"fuzz {target.Name}",
        };
        worker.Start();
        long limitTicks = (long)(options.CallTimeLimit.TotalSeconds * Stopwatch.Frequency);
        while (!worker.Join(50))
        {
            long started = Volatile.Read(ref state.CallStarted);
            if (started == 0 || Stopwatch.GetTimestamp() - started <= limitTicks) continue;
            lock (state.Gate)
            {
                state.Stop = true;
                report.Findings.Add(new FuzzFinding(target.Name, options.Seed, state.Iteration, state.File, "hang",
                    $"the call did not return within {options.CallTimeLimit.TotalSeconds:0.#} s; its thread was abandoned", state.Input));
                report.Abandoned = true;
            }
            break;
        }
        report.Elapsed = clock.Elapsed;
        return report;
    }

    private static void Work(FuzzTargetInfo target, FuzzRunOptions options, FuzzTargetReport report, RunState state, Stopwatch clock, TimeSpan deadline)
    {
        bool More() => !state.Stop && report.Findings.Count < options.MaxFindings && clock.Elapsed < deadline;

        // Warm-up: first-use initialization (tables, JIT, pools) allocates once; don't charge it to an input.
        AllocationMeter.Suspended = true;
        for (int w = 0; w < options.WarmupInputs && More(); w++)
        {
            var input = Generate(target, options.Seed ^ 0x5741524D, w, report, state);
            if (input is not null) Execute(target, options, report, state, input, -1, "warm-up");
        }
        AllocationMeter.Suspended = false;

        foreach (string directory in options.CorpusDirectories)
        {
            foreach (var (file, input) in ReadCorpus(directory, options.MaxInputBytes))
            {
                if (!More()) return;
                Execute(target, options, report, state, input, -1, file);
                report.CorpusInputs++;
            }
        }
        for (long i = options.StartIteration; i - options.StartIteration < options.Iterations && More(); i++)
        {
            var input = Generate(target, options.Seed, i, report, state);
            if (input is null) continue;
            Execute(target, options, report, state, input, i, null);
            report.Generated++;
        }
    }

    private static byte[]? Generate(FuzzTargetInfo target, ulong seed, long iteration, FuzzTargetReport report, RunState state)
    {
        try
        {
            return target.Generate(seed, iteration);
        }
        catch (Exception e)
        {
            lock (state.Gate) report.Findings.Add(new FuzzFinding(target.Name, seed, iteration, null, "generator " + e.GetType().Name, e.ToString(), []));
            return null;
        }
    }

    private static void Execute(FuzzTargetInfo target, FuzzRunOptions options, FuzzTargetReport report, RunState state, byte[] input, long iteration, string? file)
    {
        state.Input = input;
        state.Iteration = iteration;
        state.File = file;
        long start = Stopwatch.GetTimestamp();
        Volatile.Write(ref state.CallStarted, start);
        Exception? failure = null;
        try
        {
            target.Fuzz(input);
        }
        catch (Exception e)
        {
            failure = e;
        }
        Volatile.Write(ref state.CallStarted, 0);
        var took = Stopwatch.GetElapsedTime(start);
        lock (state.Gate)
        {
            if (state.Stop) return; // the watchdog already reported this call
            report.TargetTime += took;
            if (took > report.SlowestCall) report.SlowestCall = took;
            if (failure is not null)
                report.Findings.Add(new FuzzFinding(target.Name, options.Seed, iteration, file, failure.GetType().Name, failure.ToString(), input));
            else if (took > options.CallTimeLimit)
                report.Findings.Add(new FuzzFinding(target.Name, options.Seed, iteration, file, "slow",
                    string.Create(CultureInfo.InvariantCulture, $"the call took {took.TotalSeconds:0.00} s, over the {options.CallTimeLimit.TotalSeconds:0.#} s limit"), input));
        }
    }

    /// <summary>Files of <paramref name="directory"/> in name order, each one input.</summary>
    internal static IEnumerable<(string File, byte[] Input)> ReadCorpus(string directory, int maxBytes = int.MaxValue)
    {
        foreach (string file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            if (new FileInfo(file).Length > maxBytes) continue;
            yield return (file, File.ReadAllBytes(file));
        }
    }

    /// <summary>
    /// Writes generated inputs <paramref name="startIteration"/>.. as files named
    /// <c>&lt;seed&gt;-&lt;iteration&gt;.bin</c> into <paramref name="directory"/> (created if needed); returns the count.
    /// </summary>
    internal static int WriteCorpus(FuzzTargetInfo target, string directory, ulong seed, int count, long startIteration = 0)
    {
        Directory.CreateDirectory(directory);
        for (long i = startIteration; i < startIteration + count; i++)
            File.WriteAllBytes(Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{seed:x}-{i:D6}.bin")), target.Generate(seed, i));
        return count;
    }

    /// <summary>
    /// Writes <paramref name="count"/> generated forward streams as channel files
    /// <c>&lt;seed&gt;-&lt;iteration&gt;.&lt;channel&gt;.bin</c> (each exactly as it would travel, for
    /// <c>streamkit verify</c> or another receiver) plus <c>cases.txt</c> with one description per case.
    /// </summary>
    internal static int WriteStreamCases(MalformedStreamGenerator generator, string directory, ulong seed, int count, long startIteration = 0,
        MutationFocus focus = MutationFocus.Any)
    {
        Directory.CreateDirectory(directory);
        var descriptions = new List<string>(count);
        for (long i = startIteration; i < startIteration + count; i++)
        {
            var c = generator.Generate(seed, i, focus);
            for (int ch = 0; ch < c.Channels.Count; ch++)
                File.WriteAllBytes(Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{seed:x}-{i:D6}.{ch}.bin")), c.Channels[ch]);
            descriptions.Add(c.Description);
        }
        File.WriteAllLines(Path.Combine(directory, "cases.txt"), descriptions);
        return count;
    }

    /// <summary>All reports and their findings, for a console or a test log.</summary>
    internal static string Format(IEnumerable<FuzzTargetReport> reports)
    {
        var text = new System.Text.StringBuilder();
        foreach (var report in reports)
        {
            text.AppendLine(report.ToString());
            foreach (var finding in report.Findings) text.AppendLine(finding.ToString());
        }
        return text.ToString();
    }
}
