using System.Numerics;
using System.Runtime.InteropServices;

namespace StreamKit.Wire;

/// <summary>
/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), init and final xor 0xFFFFFFFF;
/// check value of "123456789" is 0xE3069283. Hardware crc32 where the CPU has it
/// (x64 SSE4.2, arm64), a table-driven fallback elsewhere.
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

    /// <summary>Raw register update (no pre/post inversion).</summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        if (HasHardware)
            return UpdateHardware(state, data);
        return UpdateSoftware(state, data);
    }

    // BitOperations.Crc32C falls back to software internally; ask the intrinsics directly.
    internal static readonly bool HasHardware =
        System.Runtime.Intrinsics.X86.Sse42.IsSupported || System.Runtime.Intrinsics.Arm.Crc32.IsSupported;

    internal static uint UpdateHardware(uint state, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong w in words) state = BitOperations.Crc32C(state, w);
        foreach (byte b in data[(words.Length * 8)..]) state = BitOperations.Crc32C(state, b);
        return state;
    }

    internal static uint UpdateSoftware(uint state, ReadOnlySpan<byte> data)
    {
        var table = Table;
        foreach (byte b in data) state = table[(byte)(state ^ b)] ^ (state >> 8);
        return state;
    }

    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
        return t;
    }
}

