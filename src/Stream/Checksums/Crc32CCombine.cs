namespace StreamKit.Wire;

/// <summary>
/// CRC32C arithmetic without touching the bytes again: combine two CRCs of adjacent blocks, or extend a
/// CRC by a run of zero bytes. The CRC register is linear over GF(2), so appending <c>n</c> bytes is
/// "multiply by x^(8n) mod P" plus the CRC of the new bytes (zlib's crc32_combine method, O(log n)).
/// Lets the device digest reuse each stored chunk's payload CRC and cover zero runs for free.
/// </summary>
internal static class Crc32CCombine
{
    private const uint Polynomial = 0x82F63B78; // reflected Castagnoli

    // X2n[k] = x^(2^k) mod P, in the reflected representation (bit 31 = x^0).
    private static readonly uint[] X2n = BuildPowers();

    /// <summary><c>Combine(Compute(a), Compute(b), b.Length) == Compute(a ++ b)</c>.</summary>
    internal static uint Combine(uint crcA, uint crcB, ulong lengthB) =>
        MultiplyModP(PowerOfX(lengthB), crcA) ^ crcB;

    /// <summary><c>AppendZeros(Compute(a), n) == Compute(a ++ n zero bytes)</c>.</summary>
    internal static uint AppendZeros(uint crc, ulong count) =>
        count == 0 ? crc : ~MultiplyModP(PowerOfX(count), ~crc);

    /// <summary>x^(8·bytes) mod P.</summary>
    private static uint PowerOfX(ulong bytes)
    {
        uint p = 1u << 31; // x^0
        int k = 3;         // 8·n = n·2^3
        while (bytes != 0)
        {
            if ((bytes & 1) != 0) p = MultiplyModP(X2n[k & 31], p);
            bytes >>= 1;
            k++;
        }
        return p;
    }

    /// <summary>a·b mod P, both reflected.</summary>
    private static uint MultiplyModP(uint a, uint b)
    {
        if (a == 0) return 0;
        uint m = 1u << 31, p = 0;
        while (true)
        {
            if ((a & m) != 0)
            {
                p ^= b;
                if ((a & (m - 1)) == 0) return p;
            }
            m >>= 1;
            b = (b & 1) != 0 ? (b >> 1) ^ Polynomial : b >> 1;
        }
    }

    private static uint[] BuildPowers()
    {
        var table = new uint[32];
        uint p = 1u << 30; // x^1
        table[0] = p;
        for (int n = 1; n < 32; n++) table[n] = p = MultiplyModP(p, p);
        return table;
    }
}
