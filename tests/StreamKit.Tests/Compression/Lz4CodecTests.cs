using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Compression;

/// <summary>Lz4Codec against the real liblz4: round trips, size limits, hostile blocks.</summary>
public class Lz4CodecTests
{
    public static TheoryData<string, int> Shapes()
    {
        var data = new TheoryData<string, int>();
        foreach (string kind in new[] { "random", "half-zero", "zero" })
            foreach (int size in new[] { 1, 100, 4096, 65536, 1 << 20 })
                data.Add(kind, size);
        return data;
    }

    private static byte[] Make(string kind, int size) => kind switch
    {
        "random" => Lz4TestData.Random(size, size),
        "half-zero" => Lz4TestData.HalfZeroPages(size, size),
        _ => new byte[size],
    };

    [Lz4Theory]
    [MemberData(nameof(Shapes))]
    public void RoundTrips(string kind, int size)
    {
        byte[] raw = Make(kind, size);
        var packed = new byte[Lz4Codec.MaxCompressedLength(size)];
        int n = Lz4Codec.Compress(raw, packed);
        Assert.InRange(n, 1, packed.Length);
        var back = new byte[size];
        Assert.Equal(size, Lz4Codec.Decompress(packed.AsSpan(0, n), back));
        Assert.Equal(raw, back);

        // Ratios that show the data shapes are what they claim to be.
        if (size >= 65536)
        {
            double ratio = (double)n / size;
            switch (kind)
            {
                case "zero": Assert.True(ratio < 0.01, $"zero ratio {ratio}"); break;
                case "half-zero": Assert.InRange(ratio, 0.35, 0.65); break;
                default: Assert.True(ratio > 0.99, $"random ratio {ratio}"); break;
            }
        }
    }

    [Lz4Fact]
    public void HigherAccelerationStillRoundTrips()
    {
        byte[] raw = Lz4TestData.HalfZeroPages(256 * 1024, 9);
        var packed = new byte[Lz4Codec.MaxCompressedLength(raw.Length)];
        int n = Lz4Codec.Compress(raw, packed, acceleration: 8);
        var back = new byte[raw.Length];
        Assert.Equal(raw.Length, Lz4Codec.Decompress(packed.AsSpan(0, n), back));
        Assert.Equal(raw, back);
    }

    [Lz4Fact]
    public void CompressReturnsZeroWhenDestinationTooSmall()
    {
        byte[] random = Lz4TestData.Random(65536, 1);
        Assert.Equal(0, Lz4Codec.Compress(random, new byte[32 * 1024]));
        Assert.Equal(0, Lz4Codec.Compress(random, new byte[65536])); // incompressible: LZ4 output > input
        Assert.Equal(0, Lz4Codec.Compress(random, Span<byte>.Empty));
        Assert.Equal(0, Lz4Codec.Compress(ReadOnlySpan<byte>.Empty, new byte[64]));

        // Every capacity either fails with 0 or produces a block within it that decodes back.
        byte[] half = Lz4TestData.HalfZeroPages(64 * 1024, 2);
        var full = new byte[Lz4Codec.MaxCompressedLength(half.Length)];
        int needed = Lz4Codec.Compress(half, full);
        Assert.Equal(0, Lz4Codec.Compress(half, new byte[needed - 1]));
        var rng = new Random(3);
        var back = new byte[half.Length];
        for (int i = 0; i < 40; i++)
        {
            int capacity = rng.Next(needed - 64, full.Length + 1);
            var dst = new byte[capacity];
            int n = Lz4Codec.Compress(half, dst);
            Assert.InRange(n, 0, capacity);
            if (n == 0) continue;
            Assert.Equal(half.Length, Lz4Codec.Decompress(dst.AsSpan(0, n), back));
            Assert.Equal(half, back);
        }
    }

    [Lz4Fact]
    public void BlockThatWouldExceedDestinationIsRejected()
    {
        byte[] raw = Lz4TestData.HalfZeroPages(64 * 1024, 4);
        byte[] block = CompressToArray(raw);
        Assert.Equal(-1, Lz4Codec.Decompress(block, new byte[raw.Length - 1]));
        Assert.Equal(-1, Lz4Codec.Decompress(block, new byte[100]));
        Assert.Equal(-1, Lz4Codec.Decompress(block, Span<byte>.Empty));
        Assert.Equal(raw.Length, Lz4Codec.Decompress(block, new byte[raw.Length + 1000]));
    }

    [Lz4Fact]
    public void EmptyAndGarbageBlocksAreRejected()
    {
        var dst = new byte[4096];
        Assert.Equal(-1, Lz4Codec.Decompress(ReadOnlySpan<byte>.Empty, dst));
        // Token 0xF0: 15+ literals announced, no length byte or literal follows.
        Assert.Equal(-1, Lz4Codec.Decompress([0xF0], dst));
        // One literal then a match with offset 0 (invalid).
        Assert.Equal(-1, Lz4Codec.Decompress([0x14, 0x41, 0x00, 0x00, 0x00], dst));
        // Offset pointing before the start of the output.
        Assert.Equal(-1, Lz4Codec.Decompress([0x14, 0x41, 0x10, 0x00, 0x00], dst));
    }

    [Lz4Fact]
    public void TruncatedBlocksNeverDecodeToTheFullLength()
    {
        byte[] raw = Lz4TestData.HalfZeroPages(16 * 1024, 5);
        for (int i = 0; i < raw.Length; i += 97) raw[i] = (byte)i; // sprinkle literals into the zero pages
        byte[] block = CompressToArray(raw);
        var dst = new byte[raw.Length];
        int shorter = 0;
        for (int cut = 0; cut < block.Length; cut++)
        {
            int n = Lz4Codec.Decompress(block.AsSpan(0, cut), dst);
            // A cut at a sequence boundary is a well-formed shorter block: its output is a strict prefix.
            Assert.True(n == -1 || n < raw.Length, $"cut {cut} decoded {n} bytes");
            if (n > 0)
            {
                Assert.True(dst.AsSpan(0, n).SequenceEqual(raw.AsSpan(0, n)), $"cut {cut}");
                shorter++;
            }
        }
        Assert.True(shorter < block.Length / 4, $"{shorter} of {block.Length} cuts decoded");
    }

    [Lz4Fact]
    public void MutatedBlocksNeverCrashOrOverrunTheDestination()
    {
        var rng = new Random(20261122);
        byte[] raw = Lz4TestData.HalfZeroPages(16 * 1024, 6);
        for (int i = 0; i < raw.Length; i += 61) raw[i] = (byte)(i >> 3);
        byte[] block = CompressToArray(raw);
        const int Guard = 64;
        var output = new byte[raw.Length + 2048 + Guard];
        int failed = 0, decoded = 0;
        for (int round = 0; round < 4000; round++)
        {
            byte[] mutated = Mutate(block, rng);
            // Destination: sometimes exact, sometimes smaller or larger than the raw length.
            int capacity = rng.Next(4) switch { 0 => rng.Next(0, raw.Length), 1 => raw.Length + rng.Next(1, 2048), _ => raw.Length };
            output.AsSpan(capacity, Guard).Fill(0xA5);
            int n = Lz4Codec.Decompress(mutated, output.AsSpan(0, capacity));
            Assert.True(n == -1 || (n >= 0 && n <= capacity), $"round {round}: {n} for capacity {capacity}");
            Assert.True(output.AsSpan(capacity, Guard).IndexOfAnyExcept((byte)0xA5) < 0, $"round {round}: wrote past capacity {capacity}");
            if (n < 0) failed++; else decoded++;
        }
        // The fuzzer must hit both outcomes, or it is not exploring anything.
        Assert.True(failed > 100 && decoded > 100, $"failed {failed}, decoded {decoded}");
    }

    private static byte[] Mutate(byte[] block, Random rng)
    {
        byte[] m = (byte[])block.Clone();
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits; e++)
        {
            switch (rng.Next(6))
            {
                case 0: m[rng.Next(m.Length)] ^= (byte)(1 << rng.Next(8)); break;
                case 1: m[rng.Next(m.Length)] = (byte)rng.Next(256); break;
                case 2: m[rng.Next(m.Length)] = 0xFF; break; // long length runs
                case 3: m = m[..rng.Next(1, m.Length + 1)]; break; // truncate
                case 4: // delete a span
                {
                    int at = rng.Next(m.Length), len = Math.Min(m.Length - at, rng.Next(1, 32));
                    if (m.Length - len > 0) m = [.. m.AsSpan(0, at), .. m.AsSpan(at + len)];
                    break;
                }
                default: // insert random bytes
                {
                    var junk = new byte[rng.Next(1, 16)];
                    rng.NextBytes(junk);
                    int at = rng.Next(m.Length + 1);
                    m = [.. m.AsSpan(0, at), .. junk, .. m.AsSpan(at)];
                    break;
                }
            }
        }
        return m;
    }

    private static byte[] CompressToArray(byte[] raw)
    {
        var packed = new byte[Lz4Codec.MaxCompressedLength(raw.Length)];
        int n = Lz4Codec.Compress(raw, packed);
        Assert.True(n > 0);
        return packed[..n];
    }
}
