using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamKit.Wire;

/// <summary>
/// CRC32C of long inputs by carry-less multiplication on wide vectors (x64 VPCLMULQDQ): eight
/// vector accumulators absorb the input, each 128-bit lane folded forward by a fixed distance
/// with two multiplications per 16 bytes. One 512-bit step covers 512 bytes, where the crc32
/// instruction manages 8 bytes per cycle even with three chains.
/// </summary>
/// <remarks>
/// <para>Why eight accumulators and aligned loads (measured, 1 MiB in L2): a fold is a chain of
/// a multiplication (latency ~8 cycles) and an xor, so four accumulators leave the multiplier
/// idle half the time (~27-31 GB/s); eight keep it busy (~50-59 GB/s). A 64-byte load that
/// straddles two cache lines costs two, so the first bytes up to the vector alignment go through
/// the crc32 instruction and every load after them is aligned (unaligned starts lost 15-30 %).
/// Receive buffers put chunk payloads at any offset, so alignment cannot be left to callers.</para>
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

    // Fold constants per distance in bits, computed once (Lanes512/Lanes256 broadcast them per call).
    private static readonly Vector128<ulong> Fold4096 = LaneConstants(4096);
    private static readonly Vector128<ulong> Fold2048 = LaneConstants(2048);
    private static readonly Vector128<ulong> Fold1024 = LaneConstants(1024);
    private static readonly Vector128<ulong> Fold512 = LaneConstants(512);
    private static readonly Vector128<ulong> Fold384 = LaneConstants(384);
    private static readonly Vector128<ulong> Fold256 = LaneConstants(256);
    private static readonly Vector128<ulong> Fold128 = LaneConstants(128);

    /// <summary>
    /// Raw register update over a leading part of <paramref name="data"/>: the bytes up to the first
    /// vector-aligned address, then whole 512-byte steps (512-bit kernel) or 256-byte steps (256-bit
    /// kernel); <paramref name="consumed"/> tells how many bytes were covered (0 below
    /// <see cref="MinimumLength"/> or without the instructions).
    /// </summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        if (data.Length < MinimumLength) { consumed = 0; return state; }
        if (IsSupported512) return Update512(state, data, out consumed);
        if (IsSupported256) return Update256(state, data, out consumed);
        consumed = 0;
        return state;
    }

    /// <summary>Eight 64-byte accumulators, 512 bytes per step. Requires <see cref="IsSupported512"/> (else consumes nothing).</summary>
    internal static uint Update512(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        if (!IsSupported512) { consumed = 0; return state; }
        return UpdateWide<Lanes512, Vector512<ulong>>(state, data, out consumed);
    }

    /// <summary>Eight 32-byte accumulators, 256 bytes per step (CPUs with VPCLMULQDQ but no AVX-512). Requires <see cref="IsSupported256"/>.</summary>
    internal static uint Update256(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        if (!IsSupported256) { consumed = 0; return state; }
        return UpdateWide<Lanes256, Vector256<ulong>>(state, data, out consumed);
    }

    /// <summary>The kernel for one vector width: the unaligned head by crc32, then eight accumulators over whole steps of eight vectors.</summary>
    /// <remarks>The accumulators are plain vector locals (the width's operations are static): the JIT keeps
    /// them in registers, where accumulators wrapped in a struct were spilled to the stack at every step.</remarks>
    private static unsafe uint UpdateWide<TLanes, TVector>(uint state, ReadOnlySpan<byte> data, out int consumed)
        where TLanes : struct, IWideLanes<TVector>
        where TVector : struct
    {
        int width = TLanes.Bytes, step = 8 * width;
        ref byte p = ref MemoryMarshal.GetReference(data);
        // A moving (unpinned) buffer only makes the loads unaligned again, never the result wrong.
        int head = (int)((uint)(width - (int)((nuint)Unsafe.AsPointer(ref p) % (uint)width)) % (uint)width);
        int blocks = (data.Length - head) / step;
        if (blocks <= 0) { consumed = 0; return state; }
        state = Crc32CHardware.UpdatePlain(state, data[..head]);
        p = ref Unsafe.Add(ref p, head);
        // Every constant first: no call may fall while the accumulators are live, or they lose their registers.
        TVector acrossStep = TLanes.AcrossStep, acrossHalfStep = TLanes.AcrossHalfStep, acrossVector = TLanes.AcrossVector;
        TVector a0 = TLanes.XorLow32(TLanes.Load(ref p, 0), state);
        TVector a1 = TLanes.Load(ref p, width), a2 = TLanes.Load(ref p, 2 * width), a3 = TLanes.Load(ref p, 3 * width);
        TVector a4 = TLanes.Load(ref p, 4 * width), a5 = TLanes.Load(ref p, 5 * width), a6 = TLanes.Load(ref p, 6 * width), a7 = TLanes.Load(ref p, 7 * width);
        for (int i = 1; i < blocks; i++)
        {
            p = ref Unsafe.Add(ref p, step);
            a0 = TLanes.FoldInto(a0, TLanes.Load(ref p, 0), acrossStep);
            a1 = TLanes.FoldInto(a1, TLanes.Load(ref p, width), acrossStep);
            a2 = TLanes.FoldInto(a2, TLanes.Load(ref p, 2 * width), acrossStep);
            a3 = TLanes.FoldInto(a3, TLanes.Load(ref p, 3 * width), acrossStep);
            a4 = TLanes.FoldInto(a4, TLanes.Load(ref p, 4 * width), acrossStep);
            a5 = TLanes.FoldInto(a5, TLanes.Load(ref p, 5 * width), acrossStep);
            a6 = TLanes.FoldInto(a6, TLanes.Load(ref p, 6 * width), acrossStep);
            a7 = TLanes.FoldInto(a7, TLanes.Load(ref p, 7 * width), acrossStep);
        }
        consumed = head + blocks * step;
        // Halve in parallel (each of the first four lies four vectors before its partner), then the last four in a row.
        a4 = TLanes.FoldInto(a0, a4, acrossHalfStep);
        a5 = TLanes.FoldInto(a1, a5, acrossHalfStep);
        a6 = TLanes.FoldInto(a2, a6, acrossHalfStep);
        a7 = TLanes.FoldInto(a3, a7, acrossHalfStep);
        return TLanes.Finish(TLanes.FoldInto(TLanes.FoldInto(TLanes.FoldInto(a4, a5, acrossVector), a6, acrossVector), a7, acrossVector));
    }

    /// <summary>One vector width's operations on its vector type (static, so each width compiles to its own code).</summary>
    private interface IWideLanes<TVector> where TVector : struct
    {
        static abstract int Bytes { get; }

        /// <summary>Fold constants for a distance of one step (eight vectors) in every lane.</summary>
        static abstract TVector AcrossStep { get; }

        /// <summary>Fold constants for a distance of four vectors in every lane.</summary>
        static abstract TVector AcrossHalfStep { get; }

        /// <summary>Fold constants for a distance of one vector in every lane.</summary>
        static abstract TVector AcrossVector { get; }

        static abstract TVector Load(ref byte p, int offset);

        /// <summary>The start register into the first four bytes (lane 0's low qword).</summary>
        static abstract TVector XorLow32(TVector v, uint state);

        /// <summary>Every lane of <paramref name="v"/> folded forward by the distance of <paramref name="constants"/>, xor <paramref name="next"/>.</summary>
        static abstract TVector FoldInto(TVector v, TVector next, TVector constants);

        /// <summary>The CRC register of everything folded so far (<paramref name="v"/> being the last bytes).</summary>
        static abstract uint Finish(TVector v);
    }

    private readonly struct Lanes512 : IWideLanes<Vector512<ulong>>
    {
        public static int Bytes => 64;

        public static Vector512<ulong> AcrossStep
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector512.Create(Fold4096);
        }

        public static Vector512<ulong> AcrossHalfStep
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector512.Create(Fold2048);
        }

        public static Vector512<ulong> AcrossVector
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector512.Create(Fold512);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<ulong> Load(ref byte p, int offset) => Unsafe.ReadUnaligned<Vector512<ulong>>(ref Unsafe.Add(ref p, offset));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<ulong> XorLow32(Vector512<ulong> v, uint state) => v ^ Vector512.CreateScalar((ulong)state);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<ulong> FoldInto(Vector512<ulong> v, Vector512<ulong> next, Vector512<ulong> constants) =>
            Pclmulqdq.V512.CarrylessMultiply(v, constants, 0x00) ^ Pclmulqdq.V512.CarrylessMultiply(v, constants, 0x11) ^ next;

        public static uint Finish(Vector512<ulong> v) => FinishLanes(v.GetLower().GetLower(), v.GetLower().GetUpper(), v.GetUpper().GetLower(), v.GetUpper().GetUpper());
    }

    private readonly struct Lanes256 : IWideLanes<Vector256<ulong>>
    {
        public static int Bytes => 32;

        public static Vector256<ulong> AcrossStep
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector256.Create(Fold2048);
        }

        public static Vector256<ulong> AcrossHalfStep
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector256.Create(Fold1024);
        }

        public static Vector256<ulong> AcrossVector
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector256.Create(Fold256);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<ulong> Load(ref byte p, int offset) => Unsafe.ReadUnaligned<Vector256<ulong>>(ref Unsafe.Add(ref p, offset));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<ulong> XorLow32(Vector256<ulong> v, uint state) => v ^ Vector256.CreateScalar((ulong)state);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<ulong> FoldInto(Vector256<ulong> v, Vector256<ulong> next, Vector256<ulong> constants) =>
            Pclmulqdq.V256.CarrylessMultiply(v, constants, 0x00) ^ Pclmulqdq.V256.CarrylessMultiply(v, constants, 0x11) ^ next;

        // The last 32 bytes are two lanes; zero lanes in front change nothing (leading zeros, register zero).
        public static uint Finish(Vector256<ulong> v) => FinishLanes(Vector128<ulong>.Zero, Vector128<ulong>.Zero, v.GetLower(), v.GetUpper());
    }

    /// <summary>Folds the last 64 bytes (four lanes, earliest first) into one lane and reduces it with crc32.</summary>
    private static uint FinishLanes(Vector128<ulong> l0, Vector128<ulong> l1, Vector128<ulong> l2, Vector128<ulong> l3)
    {
        Vector128<ulong> v = Fold(l0, Fold384, Fold(l1, Fold256, Fold(l2, Fold128, l3)));
        ulong crc = Sse42.X64.Crc32(0UL, v.ToScalar());
        return (uint)Sse42.X64.Crc32(crc, v.GetElement(1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<ulong> Fold(Vector128<ulong> x, Vector128<ulong> k, Vector128<ulong> y) =>
        Pclmulqdq.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.CarrylessMultiply(x, k, 0x11) ^ y;

    /// <summary>(x^(D+63) mod P, x^(D-1) mod P) as reflected 64-bit values: the register's reflected 32 bits, shifted up.</summary>
    private static Vector128<ulong> LaneConstants(int distanceBits) => Vector128.Create(
        (ulong)Crc32CShift.XPowModP(distanceBits + 63) << 32,
        (ulong)Crc32CShift.XPowModP(distanceBits - 1) << 32);
}
