using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamKit.Wire;

/// <summary>
/// CRC32C of long inputs by carry-less multiplication on wide vectors (x64 VPCLMULQDQ): four
/// vector accumulators absorb the input, each 128-bit lane folded forward by a fixed distance
/// with two multiplications per 16 bytes. One 512-bit step covers 256 bytes, where the crc32
/// instruction manages 8 bytes per cycle even with three chains; on a 1 MiB buffer this
/// kernel is about 2.5-3x the 3-way one (bench/README.md).
/// </summary>
/// <remarks>
/// <para>Representation (reflected CRC): a 16-byte lane read little-endian holds the message
/// bits in transmission order, so lane bit <c>i</c> is the coefficient of x^(127-i). Its low
/// qword is then the polynomial's top half H and its high qword the bottom half L, each as a
/// "reflected 64-bit" value (bit <c>i</c> = coefficient of x^(63-i)). Carry-less multiplying
/// two reflected 64-bit values gives their product times x in the 128-bit lane layout.</para>
/// <para>Fold: a lane X that lies D bits before lane Y contributes X·x^D = H·x^(D+64) + L·x^D,
/// which is congruent mod P to H·(x^(D+64) mod P) + L·(x^D mod P), a polynomial of degree
/// &lt; 96 that fits Y's lane. The multiplication's extra x is taken out of the constants:
/// they are x^(D+63) mod P and x^(D-1) mod P.</para>
/// <para>Finish: with the register's start value xored into the first four bytes, the CRC
/// (no pre/post inversion) of the input equals the register-zero CRC of the same bytes, and
/// leading zero bytes do not change a register-zero CRC, so the last folded lane V (congruent
/// to everything before it) can stand in for the whole prefix: two crc32 instructions over V
/// give the register. No Barrett reduction is needed.</para>
/// </remarks>
internal static class Crc32CFolding
{
    /// <summary>Shorter inputs gain too little over the 3-way kernel to pay the final folds.</summary>
    internal const int MinimumLength = 1024;

    internal static bool IsSupported512 => Pclmulqdq.V512.IsSupported && Avx512F.IsSupported && Sse42.X64.IsSupported;

    internal static bool IsSupported256 => Pclmulqdq.V256.IsSupported && Avx2.IsSupported && Sse42.X64.IsSupported;

    internal static bool IsSupported => IsSupported512 || IsSupported256;

    // Per fold distance D (bits): (x^(D+63) mod P, x^(D-1) mod P) in every 128-bit lane.
    private static readonly Vector512<ulong> Fold2048x512 = Vector512.Create(LaneConstants(2048));
    private static readonly Vector512<ulong> Fold512x512 = Vector512.Create(LaneConstants(512));
    private static readonly Vector256<ulong> Fold1024x256 = Vector256.Create(LaneConstants(1024));
    private static readonly Vector256<ulong> Fold256x256 = Vector256.Create(LaneConstants(256));
    private static readonly Vector128<ulong> Fold384 = LaneConstants(384);
    private static readonly Vector128<ulong> Fold256 = LaneConstants(256);
    private static readonly Vector128<ulong> Fold128 = LaneConstants(128);

    /// <summary>
    /// Raw register update over the leading whole 256-byte blocks (512-bit kernel) or 128-byte
    /// blocks (256-bit kernel) of <paramref name="data"/>; <paramref name="consumed"/> tells how
    /// many bytes were covered (0 below <see cref="MinimumLength"/> or without the instructions).
    /// </summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        if (data.Length < MinimumLength) { consumed = 0; return state; }
        if (IsSupported512) return Update512(state, data, out consumed);
        if (IsSupported256) return Update256(state, data, out consumed);
        consumed = 0;
        return state;
    }

    /// <summary>Four 64-byte accumulators, 256 bytes per step. Requires <see cref="IsSupported512"/> and 256+ bytes.</summary>
    internal static uint Update512(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        const int Step = 256;
        int blocks = data.Length / Step;
        if (blocks == 0 || !IsSupported512) { consumed = 0; return state; }
        ref byte p = ref MemoryMarshal.GetReference(data);
        Vector512<ulong> a0 = Load512(ref p, 0) ^ Vector512.CreateScalar((ulong)state);
        Vector512<ulong> a1 = Load512(ref p, 64), a2 = Load512(ref p, 128), a3 = Load512(ref p, 192);
        Vector512<ulong> k = Fold2048x512;
        for (int i = 1; i < blocks; i++)
        {
            p = ref Unsafe.Add(ref p, Step);
            a0 = Fold(a0, k, Load512(ref p, 0));
            a1 = Fold(a1, k, Load512(ref p, 64));
            a2 = Fold(a2, k, Load512(ref p, 128));
            a3 = Fold(a3, k, Load512(ref p, 192));
        }
        k = Fold512x512;
        a3 = Fold(Fold(Fold(a0, k, a1), k, a2), k, a3);
        consumed = blocks * Step;
        return Finish(a3.GetLower().GetLower(), a3.GetLower().GetUpper(), a3.GetUpper().GetLower(), a3.GetUpper().GetUpper());
    }

    /// <summary>Four 32-byte accumulators, 128 bytes per step (CPUs with VPCLMULQDQ but no AVX-512). Requires <see cref="IsSupported256"/>.</summary>
    internal static uint Update256(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        const int Step = 128;
        int blocks = data.Length / Step;
        if (blocks == 0 || !IsSupported256) { consumed = 0; return state; }
        ref byte p = ref MemoryMarshal.GetReference(data);
        Vector256<ulong> a0 = Load256(ref p, 0) ^ Vector256.CreateScalar((ulong)state);
        Vector256<ulong> a1 = Load256(ref p, 32), a2 = Load256(ref p, 64), a3 = Load256(ref p, 96);
        Vector256<ulong> k = Fold1024x256;
        for (int i = 1; i < blocks; i++)
        {
            p = ref Unsafe.Add(ref p, Step);
            a0 = Fold(a0, k, Load256(ref p, 0));
            a1 = Fold(a1, k, Load256(ref p, 32));
            a2 = Fold(a2, k, Load256(ref p, 64));
            a3 = Fold(a3, k, Load256(ref p, 96));
        }
        k = Fold256x256;
        a3 = Fold(Fold(Fold(a0, k, a1), k, a2), k, a3);
        // a3's two lanes are the last 32 bytes: fold the earlier lane into the later one, then finish
        // with zero lanes in front (leading zeros do not change a register-zero CRC).
        consumed = blocks * Step;
        return Finish(Vector128<ulong>.Zero, Vector128<ulong>.Zero, a3.GetLower(), a3.GetUpper());
    }

    /// <summary>Folds the last 64 bytes (four lanes, earliest first) into one lane and reduces it with crc32.</summary>
    private static uint Finish(Vector128<ulong> l0, Vector128<ulong> l1, Vector128<ulong> l2, Vector128<ulong> l3)
    {
        Vector128<ulong> v = Fold(l0, Fold384, Fold(l1, Fold256, Fold(l2, Fold128, l3)));
        ulong crc = Sse42.X64.Crc32(0UL, v.ToScalar());
        return (uint)Sse42.X64.Crc32(crc, v.GetElement(1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Fold(Vector512<ulong> x, Vector512<ulong> k, Vector512<ulong> y) =>
        Pclmulqdq.V512.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.V512.CarrylessMultiply(x, k, 0x11) ^ y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Fold(Vector256<ulong> x, Vector256<ulong> k, Vector256<ulong> y) =>
        Pclmulqdq.V256.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.V256.CarrylessMultiply(x, k, 0x11) ^ y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> Fold(Vector128<ulong> x, Vector128<ulong> k, Vector128<ulong> y) =>
        Pclmulqdq.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.CarrylessMultiply(x, k, 0x11) ^ y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Load512(ref byte p, int offset) => Unsafe.ReadUnaligned<Vector512<ulong>>(ref Unsafe.Add(ref p, offset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Load256(ref byte p, int offset) => Unsafe.ReadUnaligned<Vector256<ulong>>(ref Unsafe.Add(ref p, offset));

    /// <summary>(x^(D+63) mod P, x^(D-1) mod P) as reflected 64-bit values: the register's reflected 32 bits, shifted up.</summary>
    private static Vector128<ulong> LaneConstants(int distanceBits) => Vector128.Create(
        (ulong)Crc32CShift.XPowModP(distanceBits + 63) << 32,
        (ulong)Crc32CShift.XPowModP(distanceBits - 1) << 32);
}
