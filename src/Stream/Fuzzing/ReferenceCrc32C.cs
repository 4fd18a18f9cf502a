namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// Bit-at-a-time CRC32C straight from the definition (reflected polynomial 0x82F63B78): slow,
/// obviously right, and independent of <see cref="Crc32C"/>'s hardware and table paths, so fuzz
/// targets can re-verify what the reader and validator claim.
/// </summary>
internal static class ReferenceCrc32C
{
    internal static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint state = ~crc;
        foreach (byte b in data)
        {
            state ^= b;
            for (int k = 0; k < 8; k++) state = (state >> 1) ^ (0x82F63B78u & (0u - (state & 1)));
        }
        return ~state;
    }

    internal static uint Append(uint crc, in System.Buffers.ReadOnlySequence<byte> data)
    {
        foreach (var segment in data) crc = Append(crc, segment.Span);
        return crc;
    }

    internal static uint AppendZeros(uint crc, uint count)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, (uint)zeros.Length);
            crc = Append(crc, zeros[..n]);
            count -= (uint)n;
        }
        return crc;
    }
}
