using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamKit.Wire;

/// <summary>
/// GF(2) arithmetic modulo the CRC32C polynomial, used to join CRCs of adjacent pieces.
/// Without pre/post inversion the CRC register is linear over GF(2), and feeding it n zero bytes
/// multiplies it by x^(8n) mod P, so <c>crc(A ++ B) = shift_|B|(crc(A)) xor crc0(B)</c>.
/// Values are in the register's reflected bit order: bit 31 is the coefficient of x^0.
/// </summary>
internal static class Crc32CShift
{
    /// <summary>Reflected Castagnoli polynomial.</summary>
    internal const uint Polynomial = 0x82F63B78u;

    private const uint One = 1u << 31; // the polynomial "1" in reflected order

    // XPow2[k] = x^(2^k) mod P. 67 entries cover x^(8n) for any n < 2^63 without relying on the
    // multiplicative order of x (zlib's "k & 31" wrap is a property of its own polynomial).
    private static readonly uint[] XPow2 = BuildPowersOfTwo();

    // Recent ZeroBytesOperator results, direct-mapped by length: a stream joins one CRC per chunk and its
    // chunk lengths repeat (the chunk size, whole pages), so most joins skip the square-and-multiply.
    // Entry = length << 32 | operator (0 = empty); one 64-bit word, so racing threads never see a torn pair.
    private static readonly ulong[] OperatorCache = new ulong[64];

    /// <summary>
    /// a·b mod P (carry-less, reflected). With PCLMULQDQ and SSE4.2: one carry-less multiply and one crc32
    /// instruction (a handful of cycles); else <see cref="MultiplyModPSoftware"/> (32 rounds). Every DATA and
    /// ZERO_RUN chunk joins the device stream's CRC with it on both ends, so with many short chunks (half the
    /// pages zero: ~136 chunks per MiB) the software loop was a visible share of each side's CPU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint MultiplyModP(uint a, uint b) =>
        Pclmulqdq.IsSupported && Sse42.IsSupported ? MultiplyModPHardware(a, b) : MultiplyModPSoftware(a, b);

    /// <summary>
    /// Hardware a·b mod P. In reflected order the 63-bit carry-less product shifted left by one is the
    /// reflected 64-bit product: its high half is the x^0..x^31 part, its low half L the x^32..x^63 part,
    /// and L·x^32 mod P is exactly what the crc32 instruction computes from a zero register and L.
    /// </summary>
    internal static uint MultiplyModPHardware(uint a, uint b)
    {
        ulong product = Pclmulqdq.CarrylessMultiply(Vector128.CreateScalar((ulong)a), Vector128.CreateScalar((ulong)b), 0x00).ToScalar() << 1;
        return (uint)(product >> 32) ^ Sse42.Crc32(0u, (uint)product);
    }

    /// <summary>a·b mod P as zlib's multmodp, without data-dependent branches (they mispredict half the time).</summary>
    internal static uint MultiplyModPSoftware(uint a, uint b)
    {
        uint product = 0;
        for (int i = 31; i >= 0; i--)
        {
            product ^= b & (uint)-(int)((a >> i) & 1);
            b = (b >> 1) ^ (Polynomial & (uint)-(int)(b & 1));
        }
        return product;
    }

    /// <summary>x^(8·<paramref name="byteCount"/>) mod P: the operator "feed byteCount zero bytes".</summary>
    internal static uint ZeroBytesOperator(long byteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteCount);
        bool cacheable = byteCount is > 0 and <= uint.MaxValue;
        int slot = (int)((byteCount ^ (byteCount >> 12)) & (OperatorCache.Length - 1));
        if (cacheable)
        {
            ulong entry = Volatile.Read(ref OperatorCache[slot]);
            if (entry >> 32 == (ulong)byteCount) return (uint)entry;
        }
        uint result = PowerOfX(byteCount, firstPowerIndex: 3);
        if (cacheable) Volatile.Write(ref OperatorCache[slot], (ulong)byteCount << 32 | result);
        return result;
    }

    /// <summary>x^<paramref name="exponent"/> mod P: the fold constants of <see cref="Crc32CFolding"/> (bit distances, not bytes).</summary>
    internal static uint XPowModP(long exponent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(exponent);
        return PowerOfX(exponent, firstPowerIndex: 0);
    }

    /// <summary>x^(rest · 2^firstPowerIndex) mod P by square-and-multiply over the precomputed x^(2^k).</summary>
    private static uint PowerOfX(long rest, int firstPowerIndex)
    {
        uint result = One;
        for (int k = firstPowerIndex; rest != 0; rest >>= 1, k++)
        {
            if ((rest & 1) != 0) result = MultiplyModP(XPow2[k], result);
        }
        return result;
    }

    /// <summary>
    /// <c>Crc32C.Compute(A ++ B)</c> from <c>Compute(A)</c>, <c>Compute(B)</c> and |B| (the inversions cancel).
    /// Up to ~60 bit-serial multiplications: for joining pieces computed apart (other threads,
    /// other connections), not for the per-block lane join, which uses a <see cref="Table"/>.
    /// </summary>
    internal static uint Combine(uint crcA, uint crcB, long lengthB) =>
        MultiplyModP(ZeroBytesOperator(lengthB), crcA) ^ crcB;

    /// <summary><c>AppendZeros(Compute(a), n) == Compute(a ++ n zero bytes)</c>: zero runs cost no byte work.</summary>
    internal static uint AppendZeros(uint crc, long count) =>
        count == 0 ? crc : ~MultiplyModP(ZeroBytesOperator(count), ~crc);

    private static uint[] BuildPowersOfTwo()
    {
        var powers = new uint[67];
        powers[0] = One >> 1; // x^1
        for (int k = 1; k < powers.Length; k++) powers[k] = MultiplyModP(powers[k - 1], powers[k - 1]);
        return powers;
    }

    /// <summary>
    /// "Feed <see cref="ByteCount"/> zero bytes" as 4×256 lookup tables (4 KiB), one per register
    /// byte: applying it is 4 loads and 3 xors, cheap enough to join the lanes of every block.
    /// </summary>
    internal sealed class Table
    {
        private readonly uint[] _entries = new uint[4 * 256];

        internal Table(long byteCount)
        {
            ByteCount = byteCount;
            uint op = ZeroBytesOperator(byteCount);
            for (int k = 0; k < 4; k++)
            {
                // Linear map: the image of i is the image of i without its lowest set bit, xor the image of that bit.
                for (int i = 1; i < 256; i++)
                    _entries[k * 256 + i] = _entries[k * 256 + (i & (i - 1))] ^ MultiplyModP(op, (uint)(i & -i) << (8 * k));
            }
        }

        internal long ByteCount { get; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal uint Apply(uint crc)
        {
            // Indices are masked bytes into a fixed 1024-entry array: no bounds checks needed.
            ref uint t = ref MemoryMarshal.GetArrayDataReference(_entries);
            return Unsafe.Add(ref t, (int)(crc & 0xFF))
                 ^ Unsafe.Add(ref t, 256 + (int)((crc >> 8) & 0xFF))
                 ^ Unsafe.Add(ref t, 512 + (int)((crc >> 16) & 0xFF))
                 ^ Unsafe.Add(ref t, 768 + (int)(crc >> 24));
        }
    }
}
