using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>CRC32C kernels on one buffer per size: plain hardware loop, 3-way lanes, the dispatch (carry-less folding), slicing-by-8.</summary>
[Config(typeof(BenchConfig))]
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(4 * 1024, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
        if (Crc32CHardware.Update(~0u, _data) != Crc32CSoftware.Update(~0u, _data))
            throw new InvalidOperationException("CRC32C kernels disagree");
    }

    /// <summary>One hardware chain, 8 bytes per crc32 instruction.</summary>
    [Benchmark(Baseline = true)]
    public uint Plain() => Crc32CHardware.UpdatePlain(~0u, _data);

    /// <summary>The 3-way kernel alone: blocks of 4 KiB lanes, then 256 B lanes, then the plain loop.</summary>
    [Benchmark]
    public uint ThreeWay()
    {
        uint state = Crc32CHardware.UpdateInterleaved(~0u, _data, out int consumed);
        return Crc32CHardware.UpdatePlain(state, _data.AsSpan(consumed));
    }

    /// <summary>What Crc32C.Compute runs: carry-less folding on 512-bit (or 256-bit) vectors where the CPU has it, then the 3-way kernel.</summary>
    [Benchmark]
    public uint Dispatch() => Crc32CHardware.Update(~0u, _data);

    /// <summary>Table fallback for CPUs without crc32.</summary>
    [Benchmark]
    public uint Software() => Crc32CSoftware.Update(~0u, _data);
}
