using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace StreamKit.Benchmarks;

/// <summary>
/// Adds Median/Min and GB/s columns (from the "Size" parameter, bytes per operation) and the
/// memory diagnoser. The machine is shared, so the median and the best iteration are reported
/// next to the mean, which one preempted iteration can drag down.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddColumn(StatisticColumn.Median, StatisticColumn.Min);
        AddColumn(new ThroughputColumn(best: false), new ThroughputColumn(best: true));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}

/// <summary>
/// GB/s = bytes per operation / time per operation; bytes per nanosecond is exactly GB/s (10^9 B/s).
/// Bytes per operation: the "Size" parameter, else a public const BytesPerOperation on the benchmark class.
/// </summary>
public sealed class ThroughputColumn(bool best) : IColumn
{
    public string Id => nameof(ThroughputColumn) + (best ? "Best" : "Median");
    public string ColumnName => best ? "GB/s best" : "GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => best ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => best
        ? "Throughput of the fastest iteration: bytes per operation / min time (10^9 bytes per second)"
        : "Throughput: bytes per operation / median time (10^9 bytes per second)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        object? size = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Size")?.Value
            ?? benchmarkCase.Descriptor.Type.GetField("BytesPerOperation")?.GetRawConstantValue();
        var stats = summary[benchmarkCase]?.ResultStatistics;
        double? nanoseconds = best ? stats?.Min : stats?.Median;
        if (size is null || nanoseconds is not > 0) return "-";
        return (Convert.ToDouble(size) / nanoseconds.Value).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
    }

    public override string ToString() => ColumnName;
}
