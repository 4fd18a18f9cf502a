using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>48-byte chunk header encode/decode, both including the header CRC32C over 44 bytes.</summary>
[Config(typeof(BenchConfig))]
public class ChunkHeaderBenchmarks
{
    private readonly byte[] _buffer = new byte[ChunkHeader.Size];
    private readonly ChunkHeader _header = new(ChunkType.Data, ChunkFlags.Lz4, 3, 1, 12345, 1L << 30, 40_000, 65_536, 0xDEADBEEF);

    [GlobalSetup]
    public void Setup() => _header.Encode(_buffer);

    [Benchmark]
    public void Encode() => _header.Encode(_buffer);

    [Benchmark]
    public ChunkHeader Decode() => ChunkHeader.Decode(_buffer, 0);
}
