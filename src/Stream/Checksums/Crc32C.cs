namespace StreamKit.Wire;

/// <summary>
/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), init and final xor 0xFFFFFFFF;
/// check value of "123456789" is 0xE3069283. Hardware crc32 where the CPU has it
/// (x64 SSE4.2, arm64), carry-less folding on wide vectors (x64 VPCLMULQDQ) or 3-way interleaved
/// on large inputs, slicing-by-8 tables elsewhere.
/// </summary>
public static class Crc32C
{
    /// <summary>CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(0xFFFF_FFFFu, data);

    /// <summary>
    /// Continues a running CRC: <c>Append(Compute(a), b) == Compute(a ++ b)</c>.
    /// Start from <c>0</c> (the CRC of nothing).
    /// </summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    /// <summary><c>Compute(a ++ b)</c> from <c>Compute(a)</c>, <c>Compute(b)</c> and <c>b.Length</c>, without the bytes.</summary>
    internal static uint Combine(uint crcA, uint crcB, long lengthB) => Crc32CShift.Combine(crcA, crcB, lengthB);

    internal static bool HasHardware => Crc32CHardware.IsSupported;

    /// <summary>Raw register update (no pre/post inversion).</summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data) =>
        HasHardware ? Crc32CHardware.Update(state, data) : Crc32CSoftware.Update(state, data);

    internal static uint UpdateHardware(uint state, ReadOnlySpan<byte> data) => Crc32CHardware.Update(state, data);

    internal static uint UpdateSoftware(uint state, ReadOnlySpan<byte> data) => Crc32CSoftware.Update(state, data);
}
