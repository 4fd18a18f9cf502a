using BenchmarkDotNet.Attributes;
using StreamKit.Transport;

namespace StreamKit.Benchmarks;

/// <summary>
/// The sender's zero-run scan over one 1 MiB device read, as the pump walks it, next to one vectorised pass over
/// 1 MiB of zeros (a scan that had to look at every byte could not be faster).
/// </summary>
[Config(typeof(BenchConfig))]
public class ZeroRunScannerBenchmarks
{
    private const int ReadSize = 1 << 20;
    private const int Page = 4096;
    private byte[] _data = [];
    private readonly byte[] _zeros = new byte[ReadSize];

    /// <summary>Share of 4 KiB pages that are zero, each page on its own (as the e2e bench's bulk device makes them).</summary>
    [Params(0.0, 0.5)]
    public double ZeroPages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[ReadSize];
        var rng = new Random(7);
        rng.NextBytes(_data);
        for (int page = 0; page < ReadSize / Page; page++)
            if (rng.NextDouble() < ZeroPages) Array.Clear(_data, page * Page, Page);
    }

    [Benchmark(Baseline = true)]
    public bool EveryByte() => _zeros.AsSpan().ContainsAnyExcept((byte)0);

    [Benchmark]
    public int Runs()
    {
        int runs = 0, position = 0;
        while (true)
        {
            int start = ZeroRunScanner.Next(_data, position, out int length);
            if (start < 0) return runs;
            runs++;
            position = start + length;
        }
    }
}
