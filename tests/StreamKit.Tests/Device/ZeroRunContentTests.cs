using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

/// <summary>The sim's zero-run key: zero pages in aligned runs, the default content unchanged.</summary>
public class ZeroRunContentTests
{
    [Fact]
    public void ZeroPagesComeInAlignedRunsOfTheGivenLength()
    {
        const int Run = 16, Groups = 512;
        var content = new ContentGenerator(seed: 7, salt: 3, unitSize: 4096, zeroFraction: 0.5, zeroRunUnits: Run);
        int zeroGroups = 0;
        var page = new byte[4096];
        for (int g = 0; g < Groups; g++)
        {
            bool zero = content.IsZero(g * Run, version: 1);
            if (zero) zeroGroups++;
            for (int i = g * Run; i < (g + 1) * Run; i++)
            {
                foreach (uint version in new uint[] { 1, 2, 977 })
                {
                    Assert.Equal(zero, content.IsZero(i, version));
                    content.Fill(i, version, 0, page);
                    Assert.Equal(zero, !page.AsSpan().ContainsAnyExcept((byte)0));
                }
            }
        }
        // Binomial(512, 0.5): mean 256, sd ~11.3; ±8 sd cannot fail by chance, a broken decision would.
        Assert.InRange(zeroGroups, 166, 346);
    }

    [Fact]
    public void RunOfOneIsTheScatteredDefaultAndLongerRunsAreAnotherContentFunction()
    {
        var scattered = new ContentGenerator(seed: 7, salt: 3, unitSize: 4096, zeroFraction: 0.5);
        var runOfOne = new ContentGenerator(seed: 7, salt: 3, unitSize: 4096, zeroFraction: 0.5, zeroRunUnits: 1);
        var runs = new ContentGenerator(seed: 7, salt: 3, unitSize: 4096, zeroFraction: 0.5, zeroRunUnits: 16);
        Assert.Equal(scattered.Key, runOfOne.Key);
        Assert.NotEqual(scattered.Key, runs.Key);
        // Scattered pages: neighbours decide alone, so some aligned 16-page group is mixed.
        bool mixed = Enumerable.Range(0, 64).Any(g =>
            Enumerable.Range(g * 16, 16).Select(i => scattered.IsZero(i, 1)).Distinct().Count() == 2);
        Assert.True(mixed);
    }

    [Fact]
    public void DevicesWithDifferentZeroRunsAreIncompatible()
    {
        using var src = SimulatedDevice.Create("sim:profile=bulk,size=256KiB,zero=0.5,zero-run=8");
        using var same = SimulatedDevice.Create("sim:profile=bulk,size=256KiB,zero=0.5,zero-run=8");
        using var other = SimulatedDevice.Create("sim:profile=bulk,size=256KiB,zero=0.5");
        Assert.Equal(src.StateDigest, same.StateDigest);
        Assert.NotEqual(src.StateDigest, other.StateDigest);
    }
}
