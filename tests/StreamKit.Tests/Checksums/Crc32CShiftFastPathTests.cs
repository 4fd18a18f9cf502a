using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Checksums;

/// <summary>The branch-free multiply and the operator cache give exactly what the plain definitions give.</summary>
public class Crc32CShiftFastPathTests
{
    /// <summary>zlib's multmodp, bit by bit with branches: the reference.</summary>
    private static uint ReferenceMultiply(uint a, uint b)
    {
        uint product = 0;
        for (uint m = 1u << 31; m != 0; m >>= 1)
        {
            if ((a & m) != 0) product ^= b;
            b = (b & 1) != 0 ? (b >> 1) ^ Crc32CShift.Polynomial : b >> 1;
        }
        return product;
    }

    /// <summary>The dispatched multiply and each implementation this machine runs (the CI box may lack PCLMULQDQ).</summary>
    public static IEnumerable<object[]> MultiplyImplementations()
    {
        yield return ["dispatch"];
        yield return ["software"];
        if (System.Runtime.Intrinsics.X86.Pclmulqdq.IsSupported && System.Runtime.Intrinsics.X86.Sse42.IsSupported) yield return ["hardware"];
    }

    [Theory]
    [MemberData(nameof(MultiplyImplementations))]
    public void MultiplyMatchesTheBitSerialReference(string implementation)
    {
        Func<uint, uint, uint> multiply = implementation switch
        {
            "software" => Crc32CShift.MultiplyModPSoftware,
            "hardware" => Crc32CShift.MultiplyModPHardware,
            _ => Crc32CShift.MultiplyModP,
        };
        var random = new Random(7);
        uint[] edges = [0, 1, 2, 0x8000_0000, 0x4000_0000, 0xFFFF_FFFF, Crc32CShift.Polynomial];
        foreach (var a in edges)
            foreach (var b in edges)
                Assert.Equal(ReferenceMultiply(a, b), multiply(a, b));
        for (int i = 0; i < 20_000; i++)
        {
            uint a = (uint)random.NextInt64(0, 1L << 32), b = (uint)random.NextInt64(0, 1L << 32);
            Assert.Equal(ReferenceMultiply(a, b), multiply(a, b));
        }
    }

    [Fact]
    public void CachedOperatorsStayCorrectWhenLengthsShareASlot()
    {
        // Lengths that map to the same cache slot, interleaved, and lengths beyond the cacheable range.
        long[] lengths = [4096, 4096 + 64 * 4096 + 64, 1 << 20, (1 << 20) + 64, 1, 65, 1L << 32, (1L << 32) + 4096, 123_456_789_012];
        var expected = lengths.ToDictionary(n => n, ReferenceOperator);
        for (int round = 0; round < 3; round++)
            foreach (var n in lengths)
                Assert.Equal(expected[n], Crc32CShift.ZeroBytesOperator(n));
    }

    [Fact]
    public void CombineAndAppendZerosMatchComputingTheWholeBuffer()
    {
        var random = new Random(11);
        foreach (int length in new[] { 1, 100, 4096, 70_000 })
        {
            var a = new byte[random.Next(1, 5000)];
            var b = new byte[length];
            random.NextBytes(a);
            random.NextBytes(b);
            for (int round = 0; round < 2; round++) // second round: operator from the cache
            {
                Assert.Equal(Crc32C.Compute([.. a, .. b]), Crc32CShift.Combine(Crc32C.Compute(a), Crc32C.Compute(b), b.Length));
                Assert.Equal(Crc32C.Compute([.. a, .. new byte[length]]), Crc32CShift.AppendZeros(Crc32C.Compute(a), length));
            }
        }
    }

    /// <summary>x^(8n) by repeated squaring with the reference multiply, no cache.</summary>
    private static uint ReferenceOperator(long n)
    {
        uint x = 1u << 30; // x^1, reflected
        uint power = 1u << 31; // 1
        long bits = 8 * n; // fits: n < 2^60 here
        for (uint square = x; bits != 0; bits >>= 1, square = ReferenceMultiply(square, square))
            if ((bits & 1) != 0) power = ReferenceMultiply(power, square);
        return power;
    }
}
