using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>
/// LZ4 block compress/decompress of 4 MiB of half-zero data (4 KiB pages, each zero with
/// p = 0.5, else random) cut into chunk payloads of <see cref="ChunkSize"/>, against the
/// zero-page scan a ZERO_RUN record needs instead. The same 4 MiB at both chunk sizes keeps
/// the data (and so the ratio) equal: a single 64 KiB sample of 16 pages would be too lumpy.
/// </summary>
[Config(typeof(BenchConfig))]
public class Lz4Benchmarks
{
    /// <summary>Raw bytes every operation processes; the GB/s column divides this by the time.</summary>
    public const int BytesPerOperation = 4 * 1024 * 1024;
    private const int PageSize = 4096;

    private byte[] _raw = [], _output = [];
    private byte[][] _packed = [];
    private int[] _packedLengths = [];

    [Params(64 * 1024, 1024 * 1024)]
    public int ChunkSize { get; set; }

    /// <summary>The benchmark data, deterministic.</summary>
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
        _raw = HalfZeroPages(BytesPerOperation);
        _output = new byte[BytesPerOperation];
        int chunks = BytesPerOperation / ChunkSize;
        _packed = new byte[chunks][];
        _packedLengths = new int[chunks];
        for (int i = 0; i < chunks; i++) _packed[i] = new byte[Lz4Codec.MaxCompressedLength(ChunkSize)];
        long wire = Compress();
        if (Decompress() != BytesPerOperation || !_output.AsSpan().SequenceEqual(_raw))
            throw new InvalidOperationException("LZ4 round trip failed");
        Console.WriteLine($"// LZ4 chunks of {ChunkSize}: {ZeroPageScan()} of {BytesPerOperation / PageSize} pages zero, " +
                          $"wire {wire} bytes = {100.0 * wire / BytesPerOperation:F1} % of raw");
    }

    [Benchmark]
    public long Compress()
    {
        long wire = 0;
        for (int i = 0; i < _packed.Length; i++)
            wire += _packedLengths[i] = Lz4Codec.Compress(_raw.AsSpan(i * ChunkSize, ChunkSize), _packed[i]);
        return wire;
    }

    [Benchmark]
    public long Decompress()
    {
        long raw = 0;
        for (int i = 0; i < _packed.Length; i++)
            raw += Lz4Codec.Decompress(_packed[i].AsSpan(0, _packedLengths[i]), _output.AsSpan(i * ChunkSize, ChunkSize));
        return raw;
    }

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
