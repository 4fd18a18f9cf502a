using StreamKit.Transport;
using Xunit;

namespace StreamKit.Tests.Sessions;

/// <summary>ZeroRunScanner finds exactly the maximal zero runs of at least MinRun bytes, at any alignment.</summary>
public class ZeroRunScannerTests
{
    private const int MinRun = ZeroRunScanner.MinRun;

    /// <summary>All runs the scanner reports, walking the data as SendData does.</summary>
    private static List<(int Start, int Length)> Scan(ReadOnlySpan<byte> data)
    {
        var runs = new List<(int, int)>();
        int position = 0;
        while (position < data.Length)
        {
            int start = ZeroRunScanner.Next(data, position, out int length);
            if (start < 0)
            {
                Assert.Equal(0, length);
                break;
            }
            Assert.InRange(start, position, data.Length - MinRun);
            runs.Add((start, length));
            position = start + length;
        }
        return runs;
    }

    /// <summary>The definition: maximal runs of zero bytes of at least MinRun, byte by byte.</summary>
    private static List<(int Start, int Length)> Reference(ReadOnlySpan<byte> data)
    {
        var runs = new List<(int, int)>();
        int i = 0;
        while (i < data.Length)
        {
            if (data[i] != 0)
            {
                i++;
                continue;
            }
            int start = i;
            while (i < data.Length && data[i] == 0) i++;
            if (i - start >= MinRun) runs.Add((start, i - start));
        }
        return runs;
    }

    private static byte[] NonZero(int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        for (int i = 0; i < data.Length; i++) data[i] |= 1;
        return data;
    }

    [Fact]
    public void NoZeroBytesGivesNoRun()
    {
        var data = NonZero(64 << 10);
        Assert.Equal(-1, ZeroRunScanner.Next(data, 0, out int length));
        Assert.Equal(0, length);
    }

    [Fact]
    public void EmptyAndShorterThanMinRunGiveNoRun()
    {
        Assert.Equal(-1, ZeroRunScanner.Next([], 0, out _));
        Assert.Equal(-1, ZeroRunScanner.Next(new byte[MinRun - 1], 0, out int length));
        Assert.Equal(0, length);
    }

    [Theory]
    [InlineData(MinRun)]
    [InlineData(MinRun + 1)]
    [InlineData(1 << 20)]
    [InlineData((1 << 20) + 123)]
    public void AllZeroIsOneRun(int size)
    {
        Assert.Equal([(0, size)], Scan(new byte[size]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2047)]
    [InlineData(2048)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(5000)]
    public void RunOfExactlyMinRunIsFoundAtAnyOffset(int offset)
    {
        var data = NonZero(offset + MinRun + 8192, seed: offset);
        data.AsSpan(offset, MinRun).Clear();
        Assert.Equal([(offset, MinRun)], Scan(data));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2048)]
    [InlineData(3001)]
    public void RunOfMinRunMinusOneIsNotARun(int offset)
    {
        var data = NonZero(offset + MinRun + 8192, seed: offset);
        data.AsSpan(offset, MinRun - 1).Clear();
        Assert.Empty(Scan(data));
    }

    [Fact]
    public void RunsAtTheStartAndTheEndReachTheEdges()
    {
        var data = NonZero(10 * MinRun);
        data.AsSpan(0, MinRun + 17).Clear();
        data.AsSpan(data.Length - (2 * MinRun + 3)).Clear();
        Assert.Equal([(0, MinRun + 17), (data.Length - (2 * MinRun + 3), 2 * MinRun + 3)], Scan(data));
    }

    [Fact]
    public void RunEndingExactlyAtTheEndOfUnalignedDataIsFound()
    {
        // Data length not a multiple of the probe block: the last probe block does not fit whole.
        var data = NonZero(3 * MinRun + 1000);
        data.AsSpan(data.Length - MinRun).Clear();
        Assert.Equal([(data.Length - MinRun, MinRun)], Scan(data));
    }

    [Fact]
    public void SearchFromInsideARunStartsTheRunAtFrom()
    {
        var data = NonZero(8 * MinRun);
        data.AsSpan(MinRun, 3 * MinRun).Clear();
        // From inside: the run is cut at 'from' (what lies before it was already sent).
        int start = ZeroRunScanner.Next(data, MinRun + 100, out int length);
        Assert.Equal(MinRun + 100, start);
        Assert.Equal(3 * MinRun - 100, length);
        // Too little of the run left after 'from': no run.
        Assert.Equal(-1, ZeroRunScanner.Next(data, 4 * MinRun - (MinRun - 1), out _));
    }

    [Fact]
    public void ShortRunsBeforeALongOneAreSkipped()
    {
        var data = NonZero(16 * MinRun);
        data.AsSpan(100, MinRun - 1).Clear();          // too short, straddles probe blocks
        data.AsSpan(2 * MinRun, 3000).Clear();         // too short, covers one probe block
        data.AsSpan(5 * MinRun + 7, 2 * MinRun).Clear(); // long enough, unaligned
        Assert.Equal([(5 * MinRun + 7, 2 * MinRun)], Scan(data));
    }

    [Fact]
    public void MatchesTheByteByByteDefinitionOnRandomLayouts()
    {
        var random = new Random(2024);
        for (int round = 0; round < 300; round++)
        {
            var data = NonZero(random.Next(1, 200_000), seed: round);
            int holes = random.Next(0, 12);
            for (int h = 0; h < holes; h++)
            {
                int length = random.Next(0, 3) switch
                {
                    0 => random.Next(MinRun - 2, MinRun + 2),
                    1 => random.Next(1, 3 * MinRun),
                    _ => random.Next(1, 40_000),
                };
                int start = random.Next(0, data.Length);
                data.AsSpan(start, Math.Min(length, data.Length - start)).Clear();
            }
            // Sprinkle lone non-zero bytes that split runs at arbitrary places.
            for (int s = random.Next(0, 4); s > 0; s--) data[random.Next(0, data.Length)] = 0x5A;
            Assert.Equal(Reference(data), Scan(data));
        }
    }
}
