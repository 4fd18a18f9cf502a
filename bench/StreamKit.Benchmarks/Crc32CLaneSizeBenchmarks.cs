using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>
/// Why the 3-way kernel uses 4 KiB lanes then 256 B lanes: alternative lane cascades on the
/// same kernel. Bigger lanes leave a bigger plain-loop tail (64 KiB payloads, 4 KiB pages);
/// smaller lanes pay the lane join (two table shifts) more often.
/// </summary>
[Config(typeof(BenchConfig))]
public class Crc32CLaneSizeBenchmarks
{
    private byte[] _data = [];
    private Crc32CShift.Table[] _cascade = [];

    [Params(4 * 1024, 64 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    /// <summary>Lane sizes in bytes, largest first; "4096+256" is what Crc32C uses.</summary>
    [Params("16384+512", "8192+256", "4096+256", "4096", "1024", "256")]
    public string Lanes { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
        _cascade = Lanes.Split('+').Select(l => new Crc32CShift.Table(int.Parse(l))).ToArray();
        if (Run() != Crc32CSoftware.Update(~0u, _data)) throw new InvalidOperationException("cascade disagrees");
    }

    [Benchmark]
    public uint Run()
    {
        uint state = ~0u;
        int consumed = 0;
        foreach (var lane in _cascade) state = Crc32CHardware.UpdateBlocks(state, _data, lane, ref consumed);
        return Crc32CHardware.UpdatePlain(state, _data.AsSpan(consumed));
    }
}
