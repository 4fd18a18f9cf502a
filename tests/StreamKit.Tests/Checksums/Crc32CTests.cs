using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Checksums;

/// <summary>Every CRC32C path against a bit-by-bit reference written from the definition.</summary>
public class Crc32CTests
{
    private const uint Init = 0xFFFF_FFFFu;

    /// <summary>Bit-serial CRC32C register update: one shift per input bit, no tables, no instructions.</summary>
    private static uint Reference(uint state, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            state ^= b;
            for (int bit = 0; bit < 8; bit++) state = (state & 1) != 0 ? (state >> 1) ^ 0x82F63B78u : state >> 1;
        }
        return state;
    }

    private static uint ReferenceCrc(ReadOnlySpan<byte> data) => ~Reference(Init, data);

    /// <summary>All raw-register paths this machine can run, by name.</summary>
    private static IEnumerable<(string Name, Func<uint, byte[], int, int, uint> Update)> Paths()
    {
        yield return ("software", (s, buf, off, len) => Crc32CSoftware.Update(s, buf.AsSpan(off, len)));
        yield return ("dispatch", (s, buf, off, len) => Crc32C.Update(s, buf.AsSpan(off, len)));
        if (!Crc32CHardware.IsSupported) yield break;
        yield return ("hardware plain", (s, buf, off, len) => Crc32CHardware.UpdatePlain(s, buf.AsSpan(off, len)));
        yield return ("hardware 3-way + plain tail", (s, buf, off, len) =>
        {
            var span = buf.AsSpan(off, len);
            s = Crc32CHardware.UpdateInterleaved(s, span, out int consumed);
            return Crc32CHardware.UpdatePlain(s, span[consumed..]);
        });
        yield return ("hardware dispatch", (s, buf, off, len) => Crc32CHardware.Update(s, buf.AsSpan(off, len)));
        if (Crc32CFolding.IsSupported512) yield return ("folding 512 + plain tail", FoldingThenPlain(Crc32CFolding.Update512));
        if (Crc32CFolding.IsSupported256) yield return ("folding 256 + plain tail", FoldingThenPlain(Crc32CFolding.Update256));
    }

    private delegate uint FoldingKernel(uint state, ReadOnlySpan<byte> data, out int consumed);

    private static Func<uint, byte[], int, int, uint> FoldingThenPlain(FoldingKernel kernel) => (s, buf, off, len) =>
    {
        var span = buf.AsSpan(off, len);
        s = kernel(s, span, out int consumed);
        return Crc32CHardware.UpdatePlain(s, span[consumed..]);
    };

    [Fact]
    public void CheckValueOnEveryPath()
    {
        byte[] check = "123456789"u8.ToArray();
        Assert.Equal(0xE3069283u, ReferenceCrc(check));
        Assert.Equal(0xE3069283u, Crc32C.Compute(check));
        foreach (var (name, update) in Paths())
            Assert.True(0xE3069283u == ~update(Init, check, 0, check.Length), name);
    }

    [Fact]
    public void Rfc3720Vectors()
    {
        // iSCSI (RFC 3720 B.4): 32 zero bytes, 32 0xFF bytes, 32 ascending bytes.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        Assert.Equal(0x8A9136AAu, ReferenceCrc(new byte[32]));
    }

    [Fact]
    public void EmptyInputIsZeroAndAppendIdentity()
    {
        Assert.Equal(0u, Crc32C.Compute([]));
        Assert.Equal(0x12345678u, Crc32C.Append(0x12345678u, []));
    }

    [Fact]
    public void RandomLengthsAndAlignmentsMatchReference()
    {
        var rng = new Random(20261122);
        var buffer = new byte[200 * 1024 + 16];
        rng.NextBytes(buffer);
        for (int round = 0; round < 48; round++)
        {
            // Mostly small and mid lengths, some up to 200 KiB.
            int length = round % 4 == 0 ? rng.Next(100 * 1024, 200 * 1024 + 1) : rng.Next(0, round % 4 == 1 ? 64 : 20 * 1024);
            int offset = rng.Next(0, 16);
            uint expected = Reference(Init, buffer.AsSpan(offset, length));
            foreach (var (name, update) in Paths())
                Assert.True(expected == update(Init, buffer, offset, length), $"{name}, length {length}, offset {offset}");
            Assert.Equal(~expected, Crc32C.Compute(buffer.AsSpan(offset, length)));
        }
    }

    [Fact]
    public void AppendChainingOfRandomPiecesMatchesOneShot()
    {
        var rng = new Random(7);
        var buffer = new byte[150 * 1024 + 16];
        rng.NextBytes(buffer);
        for (int round = 0; round < 20; round++)
        {
            int offset = rng.Next(0, 16);
            int length = rng.Next(0, 150 * 1024);
            var whole = buffer.AsSpan(offset, length);
            uint running = 0;
            int pos = 0;
            while (pos < length)
            {
                // Pieces from 0 bytes to ~40 KiB, so every kernel ends and starts mid-stream.
                int piece = Math.Min(length - pos, rng.Next(4) == 0 ? rng.Next(0, 40 * 1024) : rng.Next(0, 900));
                running = Crc32C.Append(running, whole.Slice(pos, piece));
                pos += piece;
            }
            Assert.Equal(ReferenceCrc(whole), running);
        }
    }

    [Fact]
    public void LengthsAroundLaneAndBlockBoundaries()
    {
        var rng = new Random(3);
        int small = (int)Crc32CHardware.SmallLane.ByteCount, large = (int)Crc32CHardware.LargeLane.ByteCount;
        var lengths = new SortedSet<int>();
        for (int n = 0; n <= 40; n++) lengths.Add(n);
        foreach (int basis in new[] { 3 * small, 6 * small, 3 * large, 6 * large, 3 * large + 3 * small, 3 * large + 6 * small, Crc32CFolding.MinimumLength, 65536, 1 << 17 })
        {
            for (int delta = -9; delta <= 9; delta++) lengths.Add(basis + delta);
        }
        var buffer = new byte[(1 << 17) + 32];
        rng.NextBytes(buffer);
        foreach (int length in lengths)
        {
            int offset = length % 16;
            uint expected = Reference(Init, buffer.AsSpan(offset, length));
            foreach (var (name, update) in Paths())
                Assert.True(expected == update(Init, buffer, offset, length), $"{name}, length {length}");
        }
    }

    [FoldingCrcFact]
    public unsafe void FoldingKernelsCoverTheAlignedHeadAndWholeStepsFromAnyStartState()
    {
        // Pinned, so the alignment the kernel sees is the one computed here.
        var data = GC.AllocateArray<byte>((1 << 20) + 300, pinned: true);
        new Random(13).NextBytes(data);
        var kernels = new List<(string Name, FoldingKernel Kernel, int Width)>();
        if (Crc32CFolding.IsSupported512) kernels.Add(("512", Crc32CFolding.Update512, 64));
        if (Crc32CFolding.IsSupported256) kernels.Add(("256", Crc32CFolding.Update256, 32));
        Assert.NotEmpty(kernels);
        foreach (var (name, kernel, width) in kernels)
        {
            int step = 8 * width;
            foreach (int length in new[] { step, step + 1, 2 * step - 1, 2 * step, step + width, 1023, 1024, 4096 + 77, 65536, 1 << 20 })
            {
                for (int offset = 0; offset < 2 * width; offset += length < 65536 ? 1 : 13)
                {
                    foreach (uint start in new[] { Init, 0u, 0x9E3779B9u })
                    {
                        var span = data.AsSpan(offset, length);
                        int head;
                        fixed (byte* at = span) head = (int)((width - (long)at % width) % width);
                        int expected = (length - head) / step > 0 ? head + (length - head) / step * step : 0;
                        uint state = kernel(start, span, out int consumed);
                        Assert.True(consumed == expected, $"{name}: consumed {consumed} of {length} at offset {offset}, expected {expected}");
                        Assert.True(Reference(start, span[..consumed]) == state, $"{name}, length {length}, offset {offset}, start {start:X8}");
                    }
                }
            }
        }
        // The dispatcher hands short inputs to the 3-way kernel untouched.
        Crc32CFolding.Update(Init, data.AsSpan(0, Crc32CFolding.MinimumLength - 1), out int none);
        Assert.Equal(0, none);
    }

    [HardwareCrcFact]
    public void ThreeWayKernelCoversLargeInputs()
    {
        int small = (int)Crc32CHardware.SmallLane.ByteCount, large = (int)Crc32CHardware.LargeLane.ByteCount;
        var data = new byte[1 << 20];
        new Random(11).NextBytes(data);
        foreach (int length in new[] { 3 * small - 1, 3 * small, 4096, 65536, 65536 + 44, 1 << 20 })
        {
            var span = data.AsSpan(0, length);
            uint state = Crc32CHardware.UpdateInterleaved(Init, span, out int consumed);
            // Whole large blocks, then whole small blocks; the plain loop only sees < 3 small lanes.
            int expectedConsumed = length / (3 * large) * 3 * large;
            expectedConsumed += (length - expectedConsumed) / (3 * small) * 3 * small;
            Assert.Equal(expectedConsumed, consumed);
            Assert.InRange(length - consumed, 0, 3 * small - 1);
            Assert.Equal(Reference(Init, span[..consumed]), state);
        }
    }
}

/// <summary>A fact that is skipped, visibly, on CPUs without a crc32 instruction.</summary>
public sealed class HardwareCrcFactAttribute : FactAttribute
{
    public HardwareCrcFactAttribute()
    {
        if (!Crc32CHardware.IsSupported) Skip = "this CPU has no crc32 instruction (x64 SSE4.2 / arm64 CRC)";
    }
}

/// <summary>A fact that is skipped, visibly, on CPUs without 256- or 512-bit carry-less multiplication.</summary>
public sealed class FoldingCrcFactAttribute : FactAttribute
{
    public FoldingCrcFactAttribute()
    {
        if (!Crc32CFolding.IsSupported) Skip = "this CPU has no VPCLMULQDQ (x64 AVX2/AVX-512 carry-less multiply)";
    }
}
