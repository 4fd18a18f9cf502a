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

    // Fold constants per distance in bits, computed once (Lanes512/Lanes256 broadcast them per call).
    private static readonly Vector128<ulong> Fold2048 = LaneConstants(2048);
    private static readonly Vector128<ulong> Fold1024 = LaneConstants(1024);
    private static readonly Vector128<ulong> Fold512 = LaneConstants(512);
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

    /// <summary>Four 64-byte accumulators, 256 bytes per step. Requires <see cref="IsSupported512"/> (else consumes nothing).</summary>
    internal static uint Update512(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        if (!IsSupported512) { consumed = 0; return state; }
        return UpdateWide<Lanes512>(state, data, out consumed);
    }

    /// <summary>Four 32-byte accumulators, 128 bytes per step (CPUs with VPCLMULQDQ but no AVX-512). Requires <see cref="IsSupported256"/>.</summary>
    internal static uint Update256(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        if (!IsSupported256) { consumed = 0; return state; }
        return UpdateWide<Lanes256>(state, data, out consumed);
    }

    /// <summary>The kernel for one vector width: four accumulators over whole steps of four vectors.</summary>
    private static uint UpdateWide<TLanes>(uint state, ReadOnlySpan<byte> data, out int consumed)
        where TLanes : struct, IWideLanes<TLanes>
    {
        int width = TLanes.Bytes, step = 4 * width;
        int blocks = data.Length / step;
        if (blocks == 0) { consumed = 0; return state; }
        ref byte p = ref MemoryMarshal.GetReference(data);
        TLanes a0 = TLanes.Load(ref p, 0).XorLow32(state);
        TLanes a1 = TLanes.Load(ref p, width), a2 = TLanes.Load(ref p, 2 * width), a3 = TLanes.Load(ref p, 3 * width);
        TLanes acrossStep = TLanes.AcrossStep;
        for (int i = 1; i < blocks; i++)
        {
            p = ref Unsafe.Add(ref p, step);
            a0 = a0.FoldInto(TLanes.Load(ref p, 0), acrossStep);
            a1 = a1.FoldInto(TLanes.Load(ref p, width), acrossStep);
            a2 = a2.FoldInto(TLanes.Load(ref p, 2 * width), acrossStep);
            a3 = a3.FoldInto(TLanes.Load(ref p, 3 * width), acrossStep);
        }
        consumed = blocks * step;
        TLanes acrossVector = TLanes.AcrossVector;
        return a0.FoldInto(a1, acrossVector).FoldInto(a2, acrossVector).FoldInto(a3, acrossVector).Finish();
    }

    /// <summary>One vector width's operations (static abstract, so each width compiles to its own code).</summary>
    private interface IWideLanes<TSelf> where TSelf : struct, IWideLanes<TSelf>
    {
        static abstract int Bytes { get; }

        /// <summary>Fold constants for a distance of one step (four vectors) in every lane.</summary>
        static abstract TSelf AcrossStep { get; }

        /// <summary>Fold constants for a distance of one vector in every lane.</summary>
        static abstract TSelf AcrossVector { get; }

        static abstract TSelf Load(ref byte p, int offset);

        /// <summary>The start register into the first four bytes (lane 0's low qword).</summary>
        TSelf XorLow32(uint state);

        /// <summary>Every lane folded forward by the distance of <paramref name="constants"/>, xor <paramref name="next"/>.</summary>
        TSelf FoldInto(TSelf next, TSelf constants);

        /// <summary>The CRC register of everything folded so far (this vector being the last bytes).</summary>
        uint Finish();
    }

    private readonly struct Lanes512(Vector512<ulong> v) : IWideLanes<Lanes512>
    {
        private readonly Vector512<ulong> _v = v;

        public static int Bytes => 64;

        public static Lanes512 AcrossStep => new(Vector512.Create(Fold2048));

        public static Lanes512 AcrossVector => new(Vector512.Create(Fold512));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes512 Load(ref byte p, int offset) => new(Unsafe.ReadUnaligned<Vector512<ulong>>(ref Unsafe.Add(ref p, offset)));

        public Lanes512 XorLow32(uint state) => new(_v ^ Vector512.CreateScalar((ulong)state));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Lanes512 FoldInto(Lanes512 next, Lanes512 constants) =>
            new(Pclmulqdq.V512.CarrylessMultiply(_v, constants._v, 0x00) ^ Pclmulqdq.V512.CarrylessMultiply(_v, constants._v, 0x11) ^ next._v);

        public uint Finish() => FinishLanes(_v.GetLower().GetLower(), _v.GetLower().GetUpper(), _v.GetUpper().GetLower(), _v.GetUpper().GetUpper());
    }

    private readonly struct Lanes256(Vector256<ulong> v) : IWideLanes<Lanes256>
    {
        private readonly Vector256<ulong> _v = v;

        public static int Bytes => 32;

        public static Lanes256 AcrossStep => new(Vector256.Create(Fold1024));

        public static Lanes256 AcrossVector => new(Vector256.Create(Fold256));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Lanes256 Load(ref byte p, int offset) => new(Unsafe.ReadUnaligned<Vector256<ulong>>(ref Unsafe.Add(ref p, offset)));

        public Lanes256 XorLow32(uint state) => new(_v ^ Vector256.CreateScalar((ulong)state));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Lanes256 FoldInto(Lanes256 next, Lanes256 constants) =>
            new(Pclmulqdq.V256.CarrylessMultiply(_v, constants._v, 0x00) ^ Pclmulqdq.V256.CarrylessMultiply(_v, constants._v, 0x11) ^ next._v);

        // The last 32 bytes are two lanes; zero lanes in front change nothing (leading zeros, register zero).
        public uint Finish() => FinishLanes(Vector128<ulong>.Zero, Vector128<ulong>.Zero, _v.GetLower(), _v.GetUpper());
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
