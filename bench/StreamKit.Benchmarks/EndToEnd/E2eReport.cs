using System.Globalization;
using System.Text;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>Median/best over the repetitions of one variant at one configuration, with its ratio to raw.</summary>
internal sealed record E2eSummary
{
    public string Config { get; init; } = "";
    public int ChunkSize { get; init; }
    public int Channels { get; init; }
    public double Zero { get; init; }
    public string Variant { get; init; } = "";
    public int Runs { get; init; }
    public int Failed { get; init; }
    public double MedianGBps { get; init; }
    public double BestGBps { get; init; }

    /// <summary>Median over repetitions of (this run's GB/s / raw's GB/s in the same repetition).</summary>
    public double? RatioToRaw { get; init; }

    /// <summary>Best paired ratio.</summary>
    public double? BestRatioToRaw { get; init; }

    public double WireShare { get; init; }
    public double SenderCpuPerGB { get; init; }
    public double ReceiverCpuPerGB { get; init; }
    public double? SenderAllocPerChunk { get; init; }
    public double? ReceiverAllocPerChunk { get; init; }
    public double SenderAllocTotalPerChunk { get; init; }
    public double ReceiverAllocTotalPerChunk { get; init; }
    public double ReceiverPeakRssMiB { get; init; }
    public double ReceiverRssStartMiB { get; init; }
    public double MedianForeignCores { get; init; }
    public double MaxForeignCores { get; init; }

    /// <summary>Stolen vCPUs (hypervisor steal) during the runs: median and max.</summary>
    public double MedianStolenCores { get; init; }

    public double MaxStolenCores { get; init; }

    /// <summary>1-minute load average at the start of the runs: median and max (the machine is shared).</summary>
    public double MedianLoad { get; init; }

    public double MaxLoad { get; init; }
}

internal static class E2eReport
{
    public static List<E2eSummary> Summarize(IReadOnlyList<E2eConfig> plan, IReadOnlyList<E2eRun> runs)
    {
        var list = new List<E2eSummary>();
        foreach (var config in plan)
        {
            var raw = runs.Where(r => r.Config == config.Key && r.Variant == E2eLabel.Raw && r.Ok).ToDictionary(r => r.Rep);
            foreach (var variant in config.Variants)
            {
                var all = runs.Where(r => r.Config == config.Key && r.Variant == variant).ToList();
                var ok = all.Where(r => r.Ok).ToList();
                if (ok.Count == 0)
                {
                    list.Add(new E2eSummary { Config = config.Key, ChunkSize = config.ChunkSize, Channels = config.Channels, Zero = config.Zero, Variant = variant, Runs = all.Count, Failed = all.Count });
                    continue;
                }
                var ratios = ok.Where(r => raw.ContainsKey(r.Rep)).Select(r => r.GBps / raw[r.Rep].GBps).ToList();
                list.Add(new E2eSummary
                {
                    Config = config.Key,
                    ChunkSize = config.ChunkSize,
                    Channels = config.Channels,
                    Zero = config.Zero,
                    Variant = variant,
                    Runs = all.Count,
                    Failed = all.Count - ok.Count,
                    MedianGBps = Median(ok.Select(r => r.GBps)),
                    BestGBps = ok.Max(r => r.GBps),
                    RatioToRaw = ratios.Count > 0 ? Median(ratios) : null,
                    BestRatioToRaw = ratios.Count > 0 ? ratios.Max() : null,
                    WireShare = Median(ok.Select(r => (double)r.WireBytes / r.DeviceBytes)),
                    SenderCpuPerGB = Median(ok.Select(r => r.SenderCpuPerGB)),
                    ReceiverCpuPerGB = Median(ok.Select(r => r.ReceiverCpuPerGB)),
                    SenderAllocPerChunk = MedianOrNull(ok.Select(r => r.SenderAllocPerChunk)),
                    ReceiverAllocPerChunk = MedianOrNull(ok.Select(r => r.ReceiverAllocPerChunk)),
                    SenderAllocTotalPerChunk = Median(ok.Select(r => r.SenderAllocTotalPerChunk)),
                    ReceiverAllocTotalPerChunk = Median(ok.Select(r => r.ReceiverAllocTotalPerChunk)),
                    ReceiverPeakRssMiB = ok.Max(r => r.ReceiverPeakRssKiB) / 1024.0,
                    ReceiverRssStartMiB = Median(ok.Select(r => (double)r.ReceiverRssStartKiB)) / 1024.0,
                    MedianForeignCores = Median(ok.Select(r => r.ForeignCores)),
                    MaxForeignCores = ok.Max(r => r.ForeignCores),
                    MedianStolenCores = Median(ok.Select(r => r.StolenCores)),
                    MaxStolenCores = ok.Max(r => r.StolenCores),
                    MedianLoad = Median(ok.Select(r => Load1(r.LoadAverage))),
                    MaxLoad = ok.Max(r => Load1(r.LoadAverage)),
                });
            }
        }
        return list;
    }

    /// <summary>The 1-minute figure of a /proc/loadavg line.</summary>
    private static double Load1(string loadAverage) =>
        double.TryParse(loadAverage.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static double? MedianOrNull(IEnumerable<double?> values)
    {
        var v = values.Where(x => x.HasValue).Select(x => x!.Value).ToArray();
        return v.Length == 0 ? null : Median(v);
    }

    public static void PrintTable(IReadOnlyList<E2eSummary> summary, TextWriter w)
    {
        w.WriteLine("GB/s = device state bytes (10^9) per wall second; ×raw = median of per-repetition ratios to raw; cpu = CPU s per GB of device bytes;");
        w.WriteLine("B/chunk = managed bytes allocated per chunk-size of device data between 25 % and 75 % of the stream (whole process); RSS = receiver VmHWM.");
        w.WriteLine($"{"configuration",-30} {"variant",-14} {"GB/s",6} {"best",6} {"×raw",6} {"wire",5} {"cpu snd",7} {"cpu rcv",7} {"B/chunk snd",11} {"rcv",8} {"RSS MiB",8} {"start",6} {"foreign",7} {"steal",5} {"load",9}");
        string? last = null;
        foreach (var s in summary)
        {
            if (last is not null && last != s.Config) w.WriteLine();
            last = s.Config;
            if (s.Runs == s.Failed)
            {
                w.WriteLine($"{s.Config,-30} {s.Variant,-14} all {s.Runs} runs failed");
                continue;
            }
            w.WriteLine($"{s.Config,-30} {s.Variant,-14} {s.MedianGBps,6:F3} {s.BestGBps,6:F3} {F(s.RatioToRaw, "F2"),6} {s.WireShare * 100,4:F0}% {s.SenderCpuPerGB,7:F2} {s.ReceiverCpuPerGB,7:F2} {F(s.SenderAllocPerChunk, "F1"),11} {F(s.ReceiverAllocPerChunk, "F1"),8} {(s.ReceiverPeakRssMiB > 0 ? s.ReceiverPeakRssMiB.ToString("F0", CultureInfo.InvariantCulture) : "-"),8} {(s.ReceiverRssStartMiB > 0 ? s.ReceiverRssStartMiB.ToString("F0", CultureInfo.InvariantCulture) : "-"),6} {s.MedianForeignCores,7:F2} {s.MedianStolenCores,5:F2} {s.MedianLoad,4:F1}/{s.MaxLoad,-4:F1}"
                + (s.Failed > 0 ? $"  ({s.Failed} failed)" : ""));
        }
    }

    private static string F(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    public static string Csv(IReadOnlyList<E2eSummary> summary)
    {
        var b = new StringBuilder("config,chunk,channels,zero,variant,runs,failed,median_gbps,best_gbps,ratio_to_raw,best_ratio_to_raw,wire_share,sender_cpu_s_per_gb,receiver_cpu_s_per_gb,sender_alloc_per_chunk,receiver_alloc_per_chunk,sender_alloc_total_per_chunk,receiver_alloc_total_per_chunk,receiver_peak_rss_mib,receiver_rss_start_mib,median_foreign_cores,max_foreign_cores,median_stolen_cores,max_stolen_cores,median_load1,max_load1\n");
        foreach (var s in summary)
        {
            string[] fields =
            [
                s.Config, I(s.ChunkSize), I(s.Channels), D(s.Zero), s.Variant, I(s.Runs), I(s.Failed), D(s.MedianGBps), D(s.BestGBps), D(s.RatioToRaw), D(s.BestRatioToRaw),
                D(s.WireShare), D(s.SenderCpuPerGB), D(s.ReceiverCpuPerGB), D(s.SenderAllocPerChunk), D(s.ReceiverAllocPerChunk), D(s.SenderAllocTotalPerChunk),
                D(s.ReceiverAllocTotalPerChunk), D(s.ReceiverPeakRssMiB), D(s.ReceiverRssStartMiB), D(s.MedianForeignCores), D(s.MaxForeignCores), D(s.MedianStolenCores), D(s.MaxStolenCores), D(s.MedianLoad), D(s.MaxLoad),
            ];
            b.AppendLine(string.Join(',', fields.Select(f => f.Contains(',') ? $"\"{f}\"" : f)));
        }
        return b.ToString();

        static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        static string D(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString("G6", CultureInfo.InvariantCulture) : "";
    }
}
