using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Checksums;

public class Crc32CCombineTests
{
    [Fact]
    public void CombineEqualsTheCrcOfTheConcatenation()
    {
        var rng = new DeterministicRandom(11);
        for (int i = 0; i < 300; i++)
        {
            var a = rng.Bytes(rng.Between(0, 3000));
            var b = rng.Bytes(rng.Between(0, 3000));
            Assert.Equal(Crc32C.Append(Crc32C.Compute(a), b), Crc32CShift.Combine(Crc32C.Compute(a), Crc32C.Compute(b), b.Length));
        }
    }

    [Fact]
    public void AppendZerosEqualsCrcOverExplicitZeros()
    {
        var rng = new DeterministicRandom(12);
        foreach (int n in new[] { 0, 1, 7, 8, 4096, 65536, 1 << 20 })
        {
            var a = rng.Bytes(rng.Between(0, 100));
            uint crc = Crc32C.Compute(a);
            Assert.Equal(Crc32C.Append(crc, new byte[n]), Crc32CShift.AppendZeros(crc, n));
        }
        Assert.Equal(Crc32C.Compute(new byte[5000]), Crc32CShift.AppendZeros(0, 5000));
    }
}
