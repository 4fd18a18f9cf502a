using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>One point of the matrix: chunk size, channels, zero-page fraction (and zero-run length), and the variants run there.</summary>
internal sealed record E2eConfig(int ChunkSize, int Channels, double Zero, string[] Variants, int ZeroRunPages = 1)
{
    public string Key => $"chunk={E2eOptions.FormatSize(ChunkSize)} ch={Channels} zero={Zero.ToString(CultureInfo.InvariantCulture)}"
        + (ZeroRunPages != 1 ? $"/run{ZeroRunPages}" : "");
}

/// <summary>Variant labels as reported (StreamKit with and without LZ4 are separate rows).</summary>
internal static class E2eLabel
{
    public const string Raw = "raw";
    public const string Naive = "naive";
    public const string StreamKit = "streamkit";
    public const string StreamKitLz4 = "streamkit+lz4";
    public const string Lz4Socat = "lz4|socat";
}

/// <summary>
/// The parent of the e2e benchmark: builds the matrix, runs every variant of every configuration
/// <c>--repeat</c> times (repetition-major, so a burst of foreign load hits one repetition of many
/// configurations rather than every repetition of one), each as a sender process and a receiver
/// process, and reports medians, bests and ratios to raw measured in the same repetition.
/// </summary>
internal static class E2eCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        E2eOptions options;
        try
        {
            options = E2eOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        bool haveLz4Socat = OnPath("lz4") && OnPath("socat");
        if (options.Jit == "steady")
        {
            // Every method, the framework's too, compiled once at full optimization for this CPU before the timed
            // run: the code a long-running process runs after tier-up. TieredCompilation=0 alone froze the
            // framework's precompiled (ReadyToRun) code, built for a baseline x64 (no AVX-512), in hot paths of
            // both variants (span compares, copies, socket calls): raw's receiver took 0.29 CPU s/GB with it, 0.22 without.
            ChildProcess.Environment["DOTNET_TieredCompilation"] = "0";
            ChildProcess.Environment["DOTNET_ReadyToRun"] = "0";
        }
        var plan = BuildPlan(options, haveLz4Socat);
        var machine = MachineInfo.Collect();
        Console.WriteLine($"e2e: {E2eOptions.FormatSize(options.SizeBytes)} per run, {options.Repeat} repetitions, warm-up {E2eOptions.FormatSize(options.WarmupBytes)}, cap {E2eOptions.FormatSize(options.ReassemblyCap)}, jit {options.Jit}" +
            (options.LinkRate > 0 ? $", link {options.LinkRate / 1e9:F3} GB/s (raw and StreamKit senders)" : ""));
        Console.WriteLine($"machine: {machine.Cpu}, {machine.Cpus} CPUs, kernel {machine.Kernel}, {machine.Runtime}; nice {machine.Nice}, {machine.Autogroup}; load {machine.LoadAverage}");
        if (!haveLz4Socat) Console.WriteLine("lz4 or socat not found on PATH: the lz4|socat variant is skipped");
        int total = plan.Sum(c => c.Variants.Length) * options.Repeat;
        Console.WriteLine($"{plan.Count} configurations, {total} runs");

        var runs = new List<E2eRun>();
        int done = 0;
        var started = Stopwatch.GetTimestamp();
        for (int rep = 0; rep < options.Repeat; rep++)
        {
            foreach (var config in plan)
            {
                // Rotate the order per repetition so no variant always runs first (cache, load phase).
                var order = config.Variants.Skip(rep % config.Variants.Length).Concat(config.Variants.Take(rep % config.Variants.Length));
                foreach (var variant in order)
                {
                    var run = await RunOneAsync(options, config, variant, rep);
                    runs.Add(run);
                    done++;
                    Console.WriteLine($"  [{done}/{total} {Stopwatch.GetElapsedTime(started):hh\\:mm\\:ss}] rep {rep} {config.Key,-30} {variant,-14} " +
                        (run.Ok ? $"{run.GBps,6:F3} GB/s  cpu s/GB {run.SenderCpuPerGB:F2}/{run.ReceiverCpuPerGB:F2}  cs/GB {run.Sender!.ContextSwitches / (run.DeviceBytes / 1e9):F0}/{run.Receiver!.ContextSwitches / (run.DeviceBytes / 1e9):F0}  jit {run.Sender.JitSeconds:F2}/{run.Receiver.JitSeconds:F2}s  foreign {run.ForeignCores:F2}  steal {run.StolenCores:F2}  load {run.LoadAverage.Split(' ')[0]}" : $"FAILED: {FirstLine(run.Error)}"));
                }
            }
        }

        var summary = E2eReport.Summarize(plan, runs);
        Console.WriteLine();
        E2eReport.PrintTable(summary, Console.Out);
        Directory.CreateDirectory(options.OutDirectory);
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string json = Path.Combine(options.OutDirectory, $"e2e-{stamp}.json");
        string csv = Path.Combine(options.OutDirectory, $"e2e-{stamp}.csv");
        machine = machine with { LoadAverageAtEnd = ProcFs.LoadAverage() };
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(new { machine, options = OptionsForJson(options), summary, runs }, new JsonSerializerOptions { WriteIndented = true }));
        await File.WriteAllTextAsync(csv, E2eReport.Csv(summary));
        Console.WriteLine($"\nwrote {json} and {csv}");
        return runs.All(r => r.Ok) ? 0 : 1;
    }

    private static object OptionsForJson(E2eOptions o) => new
    {
        o.SizeBytes, o.Zero, o.ZeroRun, o.Chunk, o.Channels, o.Lz4, o.Matrix, o.Repeat, o.Variants, o.WarmupBytes, o.ReassemblyCap, o.Seed, o.SocketBuffer, o.LinkRate, o.Jit,
    };

    private static string FirstLine(string? s) => s is null ? "" : s.Split('\n')[0];

    internal static List<E2eConfig> BuildPlan(E2eOptions o, bool haveLz4Socat)
    {
        int baseChunk = o.Chunk.Contains(1 << 20) ? 1 << 20 : o.Chunk[0];
        int baseChannels = o.Channels.Contains(1) ? 1 : o.Channels[0];
        double baseZero = o.Zero[0];
        var points = new List<(int Chunk, int Channels, double Zero, int ZeroRun, bool Lz4Point)>();
        // A zero-run length only means something with zero pages: zero 0 runs once, with run 1.
        IEnumerable<int> RunsOf(double zero) => zero > 0 ? o.ZeroRun : [1];
        if (o.Matrix == "full")
        {
            foreach (var c in o.Chunk)
                foreach (var ch in o.Channels)
                    foreach (var z in o.Zero)
                        foreach (var r in RunsOf(z))
                            points.Add((c, ch, z, r, true));
        }
        else
        {
            foreach (var z in o.Zero)
                foreach (var r in RunsOf(z))
                    points.Add((baseChunk, baseChannels, z, r, true));
            int baseRun = RunsOf(baseZero).First();
            foreach (var c in o.Chunk) points.Add((c, baseChannels, baseZero, baseRun, false));
            foreach (var ch in o.Channels) points.Add((baseChunk, ch, baseZero, baseRun, false));
        }
        var plan = new List<E2eConfig>();
        foreach (var group in points.GroupBy(p => (p.Chunk, p.Channels, p.Zero, p.ZeroRun)))
        {
            var (chunk, channels, zero, zeroRun) = group.Key;
            bool lz4Point = group.Any(p => p.Lz4Point);
            bool lz4On = o.Lz4.Contains(true) && lz4Point;
            bool lz4Off = o.Lz4.Contains(false) || !lz4Point;
            var variants = new List<string>();
            if (o.Variants.Contains(E2eVariant.Raw)) variants.Add(E2eLabel.Raw);
            if (o.Variants.Contains(E2eVariant.Naive) && channels == 1) variants.Add(E2eLabel.Naive);
            if (o.Variants.Contains(E2eVariant.StreamKit) && lz4Off) variants.Add(E2eLabel.StreamKit);
            if (o.Variants.Contains(E2eVariant.StreamKit) && lz4On) variants.Add(E2eLabel.StreamKitLz4);
            if (o.Variants.Contains(E2eVariant.Lz4Socat) && lz4On && channels == 1 && haveLz4Socat) variants.Add(E2eLabel.Lz4Socat);
            if (variants.Count > 0) plan.Add(new E2eConfig(chunk, channels, zero, variants.ToArray(), zeroRun));
        }
        return plan;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    private static E2eRunSpec SpecFor(E2eOptions o, E2eConfig c, string label) => new()
    {
        Variant = label switch
        {
            E2eLabel.Raw => E2eVariant.Raw,
            E2eLabel.Naive => E2eVariant.Naive,
            E2eLabel.Lz4Socat => E2eVariant.Lz4Socat,
            _ => E2eVariant.StreamKit,
        },
        Lz4 = label == E2eLabel.StreamKitLz4,
        SizeBytes = o.SizeBytes,
        Zero = c.Zero,
        ZeroRunPages = c.ZeroRunPages,
        Seed = o.Seed,
        ChunkSize = c.ChunkSize,
        Channels = label is E2eLabel.Raw or E2eLabel.StreamKit or E2eLabel.StreamKitLz4 ? c.Channels : 1,
        ReassemblyCap = o.ReassemblyCap,
        WarmupBytes = label == E2eLabel.Lz4Socat ? 0 : o.WarmupBytes,
        SocketBuffer = o.SocketBuffer,
        LinkRate = label is E2eLabel.Raw or E2eLabel.StreamKit or E2eLabel.StreamKitLz4 ? o.LinkRate : 0,
    };

    private static async Task<E2eRun> RunOneAsync(E2eOptions o, E2eConfig config, string label, int rep)
    {
        var spec = SpecFor(o, config, label);
        var run = new E2eRun
        {
            Config = config.Key,
            ChunkSize = config.ChunkSize,
            Channels = config.Channels,
            Zero = config.Zero,
            Variant = label,
            Rep = rep,
            LoadAverage = ProcFs.LoadAverage(),
        };
        using var deadline = new CancellationTokenSource(o.RunTimeout);
        try
        {
            return label == E2eLabel.Lz4Socat
                ? await RunPipelineAsync(spec, run, o.Verbose, deadline.Token)
                : await RunPairAsync(spec, run, o.Verbose, deadline.Token);
        }
        catch (Exception e)
        {
            return run with { Ok = false, Error = e is OperationCanceledException ? $"timed out after {o.RunTimeout}" : e.Message };
        }
    }

    /// <summary>Sender and receiver processes of this program; with a warm-up the same pair moves a small state first.</summary>
    private static async Task<E2eRun> RunPairAsync(E2eRunSpec spec, E2eRun run, bool verbose, CancellationToken ct)
    {
        await using var receiver = ChildProcess.StartSelf("receiver", spec with { Role = "receiver" }, verbose);
        await using var sender = ChildProcess.StartSelf("sender", spec with { Role = "sender" }, verbose);
        int phases = spec.WarmupBytes > 0 ? 2 : 1;
        for (int phase = 0; phase < phases; phase++)
        {
            bool timed = phase == phases - 1;
            var (port, _) = await receiver.ExpectAsync("READY", ct);
            await sender.ExpectAsync("WAITING", ct);
            var clock = Clocks.Start();
            sender.Send($"GO {port}");
            var receiving = receiver.ExpectAsync("DONE", ct);
            var sending = sender.ExpectAsync("DONE", ct);
            var (receivedJson, receivedAt) = await receiving;
            var (sentJson, sentAt) = await sending;
            if (!timed) continue;
            var r = JsonSerializer.Deserialize<ChildReport>(receivedJson)!;
            var s = JsonSerializer.Deserialize<ChildReport>(sentJson)!;
            double wall = Stopwatch.GetElapsedTime(clock.Timestamp, Math.Max(receivedAt, sentAt)).TotalSeconds;
            double senderCpu = s.UserSeconds + s.SystemSeconds;
            double receiverCpu = r.UserSeconds + r.SystemSeconds;
            run = Complete(run, spec, wall, clock, senderCpu, receiverCpu, s, r);
        }
        await Task.WhenAll(receiver.WaitForExitAsync(TimeSpan.FromSeconds(30)), sender.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        return run;
    }

    /// <summary>
    /// <c>gen | lz4 -1 | socat</c> and <c>socat | lz4 -d | sink</c>, each under one sh that prints its
    /// waited-for children's CPU (cutime+cstime of /proc/$$/stat) at the end; the .NET gen/sink start-up
    /// CPU (before GO / READY) is subtracted.
    /// </summary>
    private static async Task<E2eRun> RunPipelineAsync(E2eRunSpec spec, E2eRun run, bool verbose, CancellationToken ct)
    {
        int port = FreePort();
        string block = spec.ChunkSize switch { <= 64 << 10 => "-B4", <= 256 << 10 => "-B5", <= 1 << 20 => "-B6", _ => "-B7" };
        string stat = "; echo \"STAT $(cat /proc/$$/stat)\" >&2";
        var sinkSpec = spec with { Role = "sink", ControlOnStderr = true };
        var genSpec = spec with { Role = "gen", ControlOnStderr = true };
        string receive = $"socat -u -b{spec.ChunkSize} TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr - | lz4 -d -q | {SelfCommand.Shell("e2e-child " + sinkSpec.Encode())}{stat}";
        string send = $"{SelfCommand.Shell("e2e-child " + genSpec.Encode())} | lz4 -1 -q {block} | socat -u -b{spec.ChunkSize} - TCP:127.0.0.1:{port},retry=400,interval=0.005{stat}";
        await using var receiver = ChildProcess.StartShell("sink", receive, verbose);
        await using var sender = ChildProcess.StartShell("gen", send, verbose);
        await receiver.ExpectAsync("READY", ct);
        await sender.ExpectAsync("WAITING", ct);
        var clock = Clocks.Start();
        sender.Send("GO 0");
        var (receivedJson, receivedAt) = await receiver.ExpectAsync("DONE", ct);
        var (sentJson, sentAt) = await sender.ExpectAsync("DONE", ct);
        double wall = Stopwatch.GetElapsedTime(clock.Timestamp, Math.Max(receivedAt, sentAt)).TotalSeconds;
        var (receiveStat, _) = await receiver.ExpectAsync("STAT", ct);
        var (sendStat, _) = await sender.ExpectAsync("STAT", ct);
        var r = JsonSerializer.Deserialize<ChildReport>(receivedJson)!;
        var s = JsonSerializer.Deserialize<ChildReport>(sentJson)!;
        double senderCpu = ProcFs.ParseStatCpu(sendStat).Children - s.CpuBeforeSeconds;
        double receiverCpu = ProcFs.ParseStatCpu(receiveStat).Children - r.CpuBeforeSeconds;
        run = Complete(run, spec, wall, clock, senderCpu, receiverCpu, s, r) with
        {
            // gen/sink are plumbing here; their allocations and RSS are not the pipeline's.
            SenderAllocPerChunk = null,
            ReceiverAllocPerChunk = null,
            ReceiverPeakRssKiB = 0,
            Note = "CPU: sh children (gen+lz4+socat / socat+lz4+sink) minus gen/sink start-up; RSS not measured",
        };
        await Task.WhenAll(receiver.WaitForExitAsync(TimeSpan.FromSeconds(30)), sender.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        return run;
    }

    private static E2eRun Complete(E2eRun run, E2eRunSpec spec, double wall, Clocks clock, double senderCpu, double receiverCpu, ChildReport s, ChildReport r)
    {
        var (busy, steal, parentCpu) = clock.Stop();
        double gb = r.DeviceBytes / 1e9;
        double chunks = (double)r.DeviceBytes / spec.ChunkSize;
        bool digestMatch = s.Digest == r.Digest && r.DeviceBytes == s.DeviceBytes;
        return run with
        {
            Ok = digestMatch,
            Error = digestMatch ? null : $"destination digest {r.Digest} / {r.DeviceBytes} bytes ≠ source {s.Digest} / {s.DeviceBytes} bytes",
            WallSeconds = wall,
            DeviceBytes = r.DeviceBytes,
            WireBytes = s.WireBytes,
            GBps = gb / wall,
            SenderCpuSeconds = senderCpu,
            ReceiverCpuSeconds = receiverCpu,
            SenderCpuPerGB = senderCpu / gb,
            ReceiverCpuPerGB = receiverCpu / gb,
            SenderAllocPerChunk = s.SteadyAllocatedPerChunk,
            ReceiverAllocPerChunk = r.SteadyAllocatedPerChunk,
            SenderAllocTotalPerChunk = s.Allocated / chunks,
            ReceiverAllocTotalPerChunk = r.Allocated / chunks,
            ReceiverPeakRssKiB = r.PeakRssKiB,
            ReceiverRssStartKiB = r.RssStartKiB,
            SenderPeakRssKiB = s.PeakRssKiB,
            ForeignCores = Math.Max(0, (busy - senderCpu - receiverCpu - parentCpu) / wall),
            StolenCores = steal / wall,
            Sender = s,
            Receiver = r,
        };
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>Wall clock, machine busy CPU and this process's CPU from GO to the end of a run.</summary>
    private sealed class Clocks
    {
        private double _busy;
        private double _steal;
        private double _self;
        public long Timestamp { get; private set; }

        public static Clocks Start()
        {
            using var self = Process.GetCurrentProcess();
            var (busy, steal) = ProcFs.MachineCpuSeconds();
            return new Clocks { _busy = busy, _steal = steal, _self = self.TotalProcessorTime.TotalSeconds, Timestamp = Stopwatch.GetTimestamp() };
        }

        public (double Busy, double Steal, double Self) Stop()
        {
            using var self = Process.GetCurrentProcess();
            var (busy, steal) = ProcFs.MachineCpuSeconds();
            return (busy - _busy, steal - _steal, self.TotalProcessorTime.TotalSeconds - _self);
        }
    }
}

/// <summary>One timed run of one variant.</summary>
internal sealed record E2eRun
{
    public string Config { get; init; } = "";
    public int ChunkSize { get; init; }
    public int Channels { get; init; }
    public double Zero { get; init; }
    public string Variant { get; init; } = "";
    public int Rep { get; init; }
    public bool Ok { get; init; }
    public string? Error { get; init; }
    public double WallSeconds { get; init; }
    public long DeviceBytes { get; init; }
    public long WireBytes { get; init; }

    /// <summary>Device bytes (the state stream, GB = 10^9 B) per wall second, GO to both sides done.</summary>
    public double GBps { get; init; }

    public double SenderCpuSeconds { get; init; }
    public double ReceiverCpuSeconds { get; init; }
    public double SenderCpuPerGB { get; init; }
    public double ReceiverCpuPerGB { get; init; }
    public double? SenderAllocPerChunk { get; init; }
    public double? ReceiverAllocPerChunk { get; init; }
    public double SenderAllocTotalPerChunk { get; init; }
    public double ReceiverAllocTotalPerChunk { get; init; }
    public long ReceiverPeakRssKiB { get; init; }
    public long ReceiverRssStartKiB { get; init; }
    public long SenderPeakRssKiB { get; init; }

    /// <summary>(machine busy CPU − our processes' CPU) / wall: cores used by other work during the run.</summary>
    public double ForeignCores { get; init; }

    /// <summary>vCPUs' worth of time the hypervisor gave to others during the run (/proc/stat steal / wall).</summary>
    public double StolenCores { get; init; }

    public string LoadAverage { get; init; } = "";
    public string? Note { get; init; }
    public ChildReport? Sender { get; init; }
    public ChildReport? Receiver { get; init; }
}

/// <summary>The machine, as the report states it.</summary>
internal sealed record MachineInfo(string Cpu, int Cpus, string Kernel, string Runtime, string Gc, string Nice, string Autogroup, string LoadAverage)
{
    public string LoadAverageAtEnd { get; init; } = "";
    public string StartedUtc { get; init; } = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture);

    public static MachineInfo Collect()
    {
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        string kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        string stat = File.ReadAllText("/proc/self/stat");
        string nice = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16];
        string autogroup = File.Exists("/proc/self/autogroup") ? File.ReadAllText("/proc/self/autogroup").Trim() : "";
        string gc = (System.Runtime.GCSettings.IsServerGC ? "server" : "workstation") + (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.Interactive ? " concurrent" : "");
        return new MachineInfo(cpu, Environment.ProcessorCount, kernel, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, gc, nice, autogroup, ProcFs.LoadAverage());
    }
}
