using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace StreamKit.Wire;

/// <summary>
/// CRC32C with the CPU's crc32 instruction (x64 SSE4.2, arm64 CRC). One instruction folds an
/// 8-byte word but has a latency of ~3 cycles and a throughput of 1 per cycle, so a single
/// chain leaves two thirds of the unit idle. For large inputs three independent chains run over
/// adjacent stripes ("lanes") of a block and are joined with a precomputed zero-shift table.
/// </summary>
internal static class Crc32CHardware
{
    internal static bool IsSupported => Sse42.X64.IsSupported || Crc32.Arm64.IsSupported;

    // Lane cascade, largest first: big lanes while at least 3 of them remain, then small lanes,
    // then the plain loop for what is left (< 3 small lanes). Sizes are measured (bench/README.md).
    internal static readonly Crc32CShift.Table LargeLane = new(4096);
    internal static readonly Crc32CShift.Table SmallLane = new(256);

    /// <summary>
    /// Raw register update (no pre/post inversion); picks the kernel by length: carry-less folding
    /// (<see cref="Crc32CFolding"/>) for long inputs where the CPU has it, then the 3-way lanes, then the plain loop.
    /// </summary>
    internal static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        state = Crc32CFolding.Update(state, data, out int folded);
        data = data[folded..];
        state = UpdateInterleaved(state, data, out int consumed);
        return UpdatePlain(state, data[consumed..]);
    }

    /// <summary>
    /// The 3-way part of <see cref="Update"/>: as many whole 3-lane blocks as fit, large lanes
    /// first. <paramref name="consumed"/> tells how many leading bytes were covered (0 when the
    /// input is shorter than three small lanes); the caller finishes the rest with the plain loop.
    /// </summary>
    internal static uint UpdateInterleaved(uint state, ReadOnlySpan<byte> data, out int consumed)
    {
        consumed = 0;
        state = UpdateBlocks(state, data, LargeLane, ref consumed);
        return UpdateBlocks(state, data, SmallLane, ref consumed);
    }

    /// <summary>Whole 3-lane blocks of one lane size from <paramref name="consumed"/> on.</summary>
    internal static uint UpdateBlocks(uint state, ReadOnlySpan<byte> data, Crc32CShift.Table lane, ref int consumed)
    {
        int laneLength = (int)lane.ByteCount;
        int blocks = (data.Length - consumed) / (3 * laneLength);
        if (blocks == 0) return state;
        ref byte p = ref Unsafe.Add(ref MemoryMarshal.GetReference(data), consumed);
        for (int i = 0; i < blocks; i++)
        {
            ulong a = state, b = 0, c = 0;
            ref byte lane1 = ref Unsafe.Add(ref p, laneLength);
            ref byte lane2 = ref Unsafe.Add(ref p, 2 * laneLength);
            for (int off = 0; off < laneLength; off += 8)
            {
                a = Step(a, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, off)));
                b = Step(b, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref lane1, off)));
                c = Step(c, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref lane2, off)));
            }
            // crc(s, A++B++C) = shift(shift(crc(s, A)) ^ crc(0, B)) ^ crc(0, C)
            state = lane.Apply(lane.Apply((uint)a) ^ (uint)b) ^ (uint)c;
            p = ref Unsafe.Add(ref p, 3 * laneLength);
        }
        consumed += blocks * 3 * laneLength;
        return state;
    }

    /// <summary>One chain, 8 bytes per instruction, then single bytes: for short inputs and tails.</summary>
    internal static uint UpdatePlain(uint state, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        int words = data.Length >> 3;
        ulong crc = state;
        for (int i = 0; i < words; i++)
            crc = Step(crc, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i * 8)));
        state = (uint)crc;
        for (int i = words * 8; i < data.Length; i++)
            state = Sse42.IsSupported ? Sse42.Crc32(state, Unsafe.Add(ref p, i)) : Crc32.ComputeCrc32C(state, Unsafe.Add(ref p, i));
        return state;
    }

    // The IsSupported checks are JIT-time constants: each platform compiles to the bare instruction.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Step(ulong crc, ulong word) =>
        Sse42.X64.IsSupported ? Sse42.X64.Crc32(crc, word) : Crc32.Arm64.ComputeCrc32C((uint)crc, word);
}
