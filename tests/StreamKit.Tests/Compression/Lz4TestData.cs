namespace StreamKit.Tests.Compression;

internal static class Lz4TestData
{
    internal const int PageSize = 4096;

    /// <summary>4 KiB pages, each all-zero with probability 1/2, else random: the shape of guest RAM the benchmarks use.</summary>
    internal static byte[] HalfZeroPages(int length, int seed)
    {
        var rng = new Random(seed);
        var data = new byte[length];
        for (int page = 0; page < length; page += PageSize)
        {
            if (rng.Next(2) == 0) rng.NextBytes(data.AsSpan(page, Math.Min(PageSize, length - page)));
        }
        return data;
    }

    internal static byte[] Random(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }
}
