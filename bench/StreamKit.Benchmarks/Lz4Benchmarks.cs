using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>
/// LZ4 block compress/decompress on half-zero data (4 KiB pages, each zero with p = 0.5, else
/// random), against the zero-page scan a ZERO_RUN record needs instead.
/// </summary>
[Config(typeof(BenchConfig))]
public class Lz4Benchmarks
{
    private const int PageSize = 4096;
    private byte[] _raw = [], _packed = [], _output = [];
    private int _packedLength;

    [Params(64 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    /// <summary>The benchmark data; deterministic so the README's ratio can be recomputed.</summary>
    public static byte[] HalfZeroPages(int size)
    {
        var rng = new Random(42);
        var data = new byte[size];
        for (int page = 0; page < size; page += PageSize)
            if (rng.Next(2) == 0) rng.NextBytes(data.AsSpan(page, Math.Min(PageSize, size - page)));
        return data;
    }

    [GlobalSetup]
    public void Setup()
    {
        Lz4Codec.EnsureAvailable();
        _raw = HalfZeroPages(Size);
        _packed = new byte[Lz4Codec.MaxCompressedLength(Size)];
        _output = new byte[Size];
        _packedLength = Lz4Codec.Compress(_raw, _packed);
        if (Lz4Codec.Decompress(_packed.AsSpan(0, _packedLength), _output) != Size || !_output.AsSpan().SequenceEqual(_raw))
            throw new InvalidOperationException("LZ4 round trip failed");
        Console.WriteLine($"// LZ4 Size={Size}: {_packedLength} bytes, {100.0 * _packedLength / Size:F1} % of raw");
    }

    [Benchmark]
    public int Compress() => Lz4Codec.Compress(_raw, _packed);

    [Benchmark]
    public int Decompress() => Lz4Codec.Decompress(_packed.AsSpan(0, _packedLength), _output);

    /// <summary>Zero-page detection: what eliding zero pages costs instead of compressing them.</summary>
    [Benchmark]
    public int ZeroPageScan()
    {
        int zeroPages = 0;
        ReadOnlySpan<byte> data = _raw;
        for (int page = 0; page < data.Length; page += PageSize)
            if (data.Slice(page, PageSize).IndexOfAnyExcept((byte)0) < 0) zeroPages++;
        return zeroPages;
    }
}
