using System.Diagnostics;
using System.Globalization;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.FuzzDriver;

/// <summary>
/// <c>StreamKit.FuzzDriver &lt;target&gt;</c> reads one input from stdin and runs the target once: exit 0
/// when every invariant holds, abort (SIGABRT, which AFL++ counts as a crash) with the finding on stderr
/// otherwise. <c>--run</c> runs <see cref="FuzzRunner"/> for a time (what <c>streamkit fuzz</c> will do);
/// <c>--bench</c> times generation and target separately; <c>--find</c> prints the first failing generated
/// input as hex; <c>--codes</c> tallies the error codes generated streams reach; <c>--describe</c> prints a
/// case's description; <c>--corpus</c> writes generated inputs; <c>--list</c> names the targets.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine("usage: StreamKit.FuzzDriver <target> < input | --run <target|all> [seconds] [seed] [corpus-root] | --bench <target> [n] [seed]");
            Console.Error.WriteLine("       | --find <target> [n] [seed] | --codes [n] [seed] | --describe forward|return <iteration> [seed] | --corpus <target> <dir> [n] [seed] | --list");
            return 2;
        }
        switch (args[0])
        {
            case "--describe":
            {
                var g = new MalformedStreamGenerator();
                long it = Arg(args, 2, 0);
                var c = args[1] == "return" ? g.GenerateReturnPath((ulong)Arg(args, 3, 1), it) : g.Generate((ulong)Arg(args, 3, 1), it);
                Console.WriteLine(c.Description);
                Console.WriteLine(string.Join(" ", c.Channels.Select(ch => ch.Length)));
                return 0;
            }
            case "--find":
            {
                // The first generated input that breaks an invariant, as hex (for regression tests).
                var t = FuzzTargetCatalog.Find(args[1]);
                for (long i = 0; i < Arg(args, 2, 10000); i++)
                {
                    var input = t.Generate((ulong)Arg(args, 3, 1), i);
                    try { t.Fuzz(input); }
                    catch (Exception e)
                    {
                        Console.WriteLine($"iteration {i}: {e.Message}");
                        Console.WriteLine(Convert.ToHexString(input));
                        return 1;
                    }
                }
                return 0;
            }
            case "--codes":
            {
                // Which error codes the generated forward cases reach (the reference validator's verdicts).
                var g = new MalformedStreamGenerator();
                var tally = new SortedDictionary<string, int>();
                for (long i = 0; i < Arg(args, 1, 2000); i++)
                {
                    var c = g.Generate((ulong)Arg(args, 2, 1), i);
                    string key;
                    try
                    {
                        if (args.Length > 3 && args[3] == "tight")
                        {
                            // As the stream-validator target sees it with its 12 KiB reassembly cap, channels read sequentially.
                            var error = StreamValidatorFuzzTarget.Validate([.. c.Channels], 0, 1, 0, new StreamKit.Wire.StreamValidatorOptions { ReassemblyLimit = 12 * 1024 });
                            if (error is not null) throw error;
                        }
                        else
                        {
                            StreamKit.Wire.StreamValidator.Verify(c.Channels.Select(b => new System.Buffers.ReadOnlySequence<byte>(b)).ToList());
                        }
                        key = "valid";
                    }
                    catch (StreamKit.Wire.StreamFormatException e)
                    {
                        key = $"{(uint)e.Code} {e.Code}";
                    }
                    tally[key] = tally.GetValueOrDefault(key) + 1;
                }
                foreach (var (k, v) in tally) Console.WriteLine($"{v,6} {k}");
                return 0;
            }
            case "--run":
            {
                // What `streamkit fuzz --seconds S --seed N [--corpus DIR]` will do: FuzzRunner over generated inputs.
                var targets = args[1] == "all" ? FuzzTargetCatalog.All : [FuzzTargetCatalog.Find(args[1])];
                var reports = new List<FuzzTargetReport>();
                foreach (var t in targets)
                {
                    var report = FuzzRunner.Run(t, new FuzzRunOptions
                    {
                        Seed = (ulong)Arg(args, 3, 1),
                        Duration = TimeSpan.FromSeconds(Arg(args, 2, 10)),
                        CorpusDirectories = args.Length > 4 ? [Path.Combine(args[4], t.Name)] : [],
                    });
                    Console.WriteLine(report);
                    reports.Add(report);
                }
                Console.Write(FuzzRunner.Format(reports.Where(r => r.Findings.Count > 0)));
                return reports.Any(r => r.Findings.Count > 0) ? 1 : 0;
            }
            case "--list":
                foreach (var t in FuzzTargetCatalog.All) Console.WriteLine(t.Name);
                return 0;
            case "--bench":
                return Bench(FuzzTargetCatalog.Find(args[1]), Arg(args, 2, 2000), (ulong)Arg(args, 3, 1));
            case "--corpus":
                Console.WriteLine(FuzzRunner.WriteCorpus(FuzzTargetCatalog.Find(args[1]), args[2], (ulong)Arg(args, 4, 1), (int)Arg(args, 3, 32)));
                return 0;
        }

        var target = FuzzTargetCatalog.Find(args[0]);
        using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        stdin.CopyTo(buffer);
        // First use allocates (type initializers, JIT, pools): run the input once uncounted, then for real.
        byte[] stdinInput = buffer.ToArray();
        try
        {
            AllocationMeter.Suspended = true;
            target.Fuzz(stdinInput);
            AllocationMeter.Suspended = false;
            target.Fuzz(stdinInput);
        }
        catch (Exception e)
        {
            Environment.FailFast($"{target.Name}: finding for the {buffer.Length}-byte input: {e}");
        }
        return 0;
    }

    private static long Arg(string[] args, int index, long fallback) =>
        args.Length > index ? long.Parse(args[index], CultureInfo.InvariantCulture) : fallback;

    private static int Bench(FuzzTargetInfo target, long n, ulong seed)
    {
        AllocationMeter.Suspended = true;
        for (int i = 0; i < 3; i++) target.Fuzz(target.Generate(seed + 1, i));
        AllocationMeter.Suspended = false;
        var generate = new Stopwatch();
        var run = new Stopwatch();
        long bytes = 0, slowestIteration = -1;
        double slowest = 0;
        for (long i = 0; i < n; i++)
        {
            generate.Start();
            var input = target.Generate(seed, i);
            generate.Stop();
            bytes += input.Length;
            long before = run.ElapsedTicks;
            run.Start();
            target.Fuzz(input);
            run.Stop();
            double ms = (run.ElapsedTicks - before) * 1000.0 / Stopwatch.Frequency;
            if (ms > slowest) (slowest, slowestIteration) = (ms, i);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{target.Name}: {n} inputs, {bytes / Math.Max(1, n)} B avg; generate {generate.Elapsed.TotalMilliseconds / n:0.000} ms/input, target {run.Elapsed.TotalMilliseconds / n:0.000} ms/input ({n / run.Elapsed.TotalSeconds:0} /s); slowest {slowest:0.0} ms at iteration {slowestIteration}"));
        return 0;
    }
}
