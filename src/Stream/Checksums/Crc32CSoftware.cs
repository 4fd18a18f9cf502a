using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamKit.Wire;

/// <summary>
/// Table CRC32C for CPUs without a crc32 instruction: slicing-by-8 (8 tables of 256, 8 KiB)
/// folds one 8-byte word per step instead of one byte, about 4-5x the byte-at-a-time loop.
/// </summary>
internal static class Crc32CSoftware
{
    // Slice k maps byte b to the CRC of b followed by k zero bytes; flat so indexing skips bounds checks.
    private static readonly uint[] Slices = BuildSlices();

    /// <summary>Raw register update (no pre/post inversion).</summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        // nuint indices fold into the addressing mode; the balanced xor tree keeps the
        // loop-carried dependency short (load + 3 xors instead of a chain of 8).
        ref uint t0 = ref MemoryMarshal.GetArrayDataReference(Slices);
        ref uint t4 = ref Unsafe.Add(ref t0, 4 * 256);
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length, i = 0;
        for (; i + 8 <= length; i += 8)
        {
            ulong word = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            if (!BitConverter.IsLittleEndian) word = BinaryPrimitives.ReverseEndianness(word);
            uint lo = (uint)word ^ state;
            uint hi = (uint)(word >> 32);
            state = (Unsafe.Add(ref t4, 3 * 256 + (nuint)(byte)lo) ^ Unsafe.Add(ref t4, 2 * 256 + (nuint)(byte)(lo >> 8)))
                  ^ (Unsafe.Add(ref t4, 256 + (nuint)(byte)(lo >> 16)) ^ Unsafe.Add(ref t4, (nuint)(lo >> 24)))
                  ^ ((Unsafe.Add(ref t0, 3 * 256 + (nuint)(byte)hi) ^ Unsafe.Add(ref t0, 2 * 256 + (nuint)(byte)(hi >> 8)))
                  ^ (Unsafe.Add(ref t0, 256 + (nuint)(byte)(hi >> 16)) ^ Unsafe.Add(ref t0, (nuint)(hi >> 24))));
        }
        for (; i < length; i++)
            state = Unsafe.Add(ref t0, (nuint)(byte)(state ^ Unsafe.Add(ref p, i))) ^ (state >> 8);
        return state;
    }

    private static uint[] BuildSlices()
    {
        var t = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int bit = 0; bit < 8; bit++) c = (c & 1) != 0 ? (c >> 1) ^ Crc32CShift.Polynomial : c >> 1;
            t[i] = c;
        }
        for (int i = 0; i < 256; i++)
        {
            for (int k = 1; k < 8; k++) t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[(int)(t[(k - 1) * 256 + i] & 0xFF)];
        }
        return t;
    }
}
