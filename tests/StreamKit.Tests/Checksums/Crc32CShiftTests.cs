using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Checksums;

/// <summary>The GF(2) zero-shift operator and Combine, checked against actually feeding zero bytes.</summary>
public class Crc32CShiftTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(256)]
    [InlineData(4096)]
    [InlineData(12345)]
    public void TableShiftEqualsFeedingZeroBytes(int zeroBytes)
    {
        var table = new Crc32CShift.Table(zeroBytes);
        var zeros = new byte[zeroBytes];
        var rng = new Random(zeroBytes);
        for (int i = 0; i < 64; i++)
        {
            uint state = (uint)rng.NextInt64(0, 1L << 32);
            Assert.Equal(Crc32CSoftware.Update(state, zeros), table.Apply(state));
        }
        // Single-bit states are the basis the table is built from.
        for (int bit = 0; bit < 32; bit++)
            Assert.Equal(Crc32CSoftware.Update(1u << bit, zeros), table.Apply(1u << bit));
    }

    [Fact]
    public void CombineJoinsPiecesOfAnyLength()
    {
        var rng = new Random(5);
        var data = new byte[70_000];
        rng.NextBytes(data);
        foreach (int split in new[] { 0, 1, 9, 4096, 33_333, 70_000 })
        {
            int end = Math.Min(data.Length, split + rng.Next(0, 40_000));
            var a = data.AsSpan(0, split);
            var b = data.AsSpan(split, end - split);
            Assert.Equal(Crc32C.Compute(data.AsSpan(0, end)), Crc32C.Combine(Crc32C.Compute(a), Crc32C.Compute(b), b.Length));
        }
    }

    [Fact]
    public void ZeroBytesOperatorMatchesRepeatedMultiplication()
    {
        // x^(8n) for n = 1 byte is x^8; building n by repeated multiplication must agree with square-and-multiply.
        uint x8 = Crc32CShift.ZeroBytesOperator(1);
        uint power = Crc32CShift.ZeroBytesOperator(0);
        Assert.Equal(1u << 31, power); // the polynomial 1
        for (int n = 1; n <= 300; n++)
        {
            power = Crc32CShift.MultiplyModP(power, x8);
            Assert.Equal(power, Crc32CShift.ZeroBytesOperator(n));
        }
        // Long zero runs (beyond any int length): x^(8(a+b)) = x^(8a)·x^(8b).
        long big = 1L << 40;
        Assert.Equal(Crc32CShift.MultiplyModP(Crc32CShift.ZeroBytesOperator(big / 2), Crc32CShift.ZeroBytesOperator(big / 2)), Crc32CShift.ZeroBytesOperator(big));
        Assert.Equal(Crc32CShift.MultiplyModP(Crc32CShift.ZeroBytesOperator(big), Crc32CShift.ZeroBytesOperator(12345)), Crc32CShift.ZeroBytesOperator(big + 12345));
    }

    [Fact]
    public void NegativeLengthIsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Crc32CShift.ZeroBytesOperator(-1));
}
