using System.Buffers.Binary;

namespace StreamKit.Tests.Vectors;

/// <summary>
/// A small greedy LZ4 block encoder (lz4 block format: token, literal length, literals, 16-bit offset,
/// match length; last 5 bytes literal, no match starting in the last 12). Test vectors use it instead
/// of liblz4 so their bytes do not depend on the installed liblz4's compressor; liblz4 still decodes them.
/// </summary>
internal static class TestLz4Encoder
{
    private const int MinMatch = 4, LastLiterals = 5, MatchFindLimit = 12, HashBits = 12;

    /// <summary>Returns bytes written, or 0 if <paramref name="destination"/> is too small.</summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int n = source.Length, ip = 0, anchor = 0, op = 0;
        Span<int> table = stackalloc int[1 << HashBits];
        table.Fill(-1);
        while (ip < n - MatchFindLimit)
        {
            uint sequence = BinaryPrimitives.ReadUInt32LittleEndian(source[ip..]);
            int h = (int)((sequence * 2654435761u) >> (32 - HashBits));
            int candidate = table[h];
            table[h] = ip;
            if (candidate >= 0 && ip - candidate <= ushort.MaxValue && BinaryPrimitives.ReadUInt32LittleEndian(source[candidate..]) == sequence)
            {
                int length = MinMatch;
                while (ip + length < n - LastLiterals && source[candidate + length] == source[ip + length]) length++;
                if (!EmitSequence(source[anchor..ip], ip - candidate, length, destination, ref op)) return 0;
                ip += length;
                anchor = ip;
            }
            else
            {
                ip++;
            }
        }
        return EmitSequence(source[anchor..], 0, 0, destination, ref op) ? op : 0;
    }

    private static bool EmitSequence(ReadOnlySpan<byte> literals, int offset, int matchLength, Span<byte> dst, ref int op)
    {
        int need = 1 + literals.Length / 255 + 1 + literals.Length + 2 + matchLength / 255 + 1;
        if (op + need > dst.Length) return false;
        int litNibble = Math.Min(literals.Length, 15);
        int matchNibble = matchLength == 0 ? 0 : Math.Min(matchLength - MinMatch, 15);
        dst[op++] = (byte)(litNibble << 4 | matchNibble);
        if (litNibble == 15) WriteLength(literals.Length - 15, dst, ref op);
        literals.CopyTo(dst[op..]);
        op += literals.Length;
        if (matchLength == 0) return true; // last sequence: literals only
        BinaryPrimitives.WriteUInt16LittleEndian(dst[op..], (ushort)offset);
        op += 2;
        if (matchNibble == 15) WriteLength(matchLength - MinMatch - 15, dst, ref op);
        return true;
    }

    private static void WriteLength(int rest, Span<byte> dst, ref int op)
    {
        while (rest >= 255)
        {
            dst[op++] = 255;
            rest -= 255;
        }
        dst[op++] = (byte)rest;
    }
}
