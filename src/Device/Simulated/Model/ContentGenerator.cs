using System.Buffers.Binary;

namespace StreamKit.Device;

/// <summary>
/// The bytes of every state unit (a 4 KiB page, an mtty port's registers, ...) as a pure function
/// of (seed, unit index, version): the simulator never stores state bytes, it regenerates them.
/// Version 0 is the blank unit (all zero). Otherwise a unit is zero with probability
/// <c>zeroFraction</c> (decided per aligned run of <c>zeroRunUnits</c> units; with runs longer than one
/// unit the decision does not depend on the version, so a zero region stays zero when re-dirtied), else a 16-byte stamp (0 u64 index | 8 u32 version | 12 u32 check) followed by
/// bytes copied from a 256 KiB pool of random bytes at a (seed, index, version)-derived offset, so
/// generating and verifying run at memcpy/memcmp speed.
/// </summary>
internal sealed class ContentGenerator
{
    internal const int StampBytes = 16;
    private const int PoolBytes = 256 * 1024;

    private readonly byte[] _pool;
    private readonly ulong _key;
    private readonly ulong _zeroThreshold;
    private readonly bool _allZero;
    private readonly int _zeroRunUnits;

    /// <param name="seed">The device seed.</param>
    /// <param name="salt">Distinguishes profiles so their content never coincides.</param>
    /// <param name="unitSize">Bytes per unit, 16..4096.</param>
    /// <param name="zeroFraction">Share of all-zero units among versions ≥ 1, in [0, 1].</param>
    /// <param name="zeroRunUnits">Zero units come in aligned runs of this many units (1: each unit alone).</param>
    internal ContentGenerator(ulong seed, ulong salt, int unitSize, double zeroFraction, int zeroRunUnits = 1)
    {
        if (unitSize is < StampBytes or > 4096) throw new ArgumentOutOfRangeException(nameof(unitSize));
        if (!(zeroFraction is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(zeroFraction));
        ArgumentOutOfRangeException.ThrowIfLessThan(zeroRunUnits, 1);
        _zeroRunUnits = zeroRunUnits;
        UnitSize = unitSize;
        Seed = seed;
        _allZero = zeroFraction >= 1;
        _zeroThreshold = (ulong)(zeroFraction * 18446744073709551615.0);
        _key = SimMix.Mix(seed, salt, SimMix.Mix((ulong)unitSize, BitConverter.DoubleToUInt64Bits(zeroFraction)));
        if (zeroRunUnits != 1) _key = SimMix.Mix(_key, (ulong)zeroRunUnits); // 1 keeps the content (and digests) of before
        _pool = new byte[PoolBytes + unitSize];
        var rng = new SimMix.Rng(_key);
        for (int i = 0; i + 8 <= _pool.Length; i += 8)
            BinaryPrimitives.WriteUInt64LittleEndian(_pool.AsSpan(i), rng.Next());
    }

    internal int UnitSize { get; }

    internal ulong Seed { get; }

    /// <summary>Identifies the content function; part of every digest and header check.</summary>
    internal ulong Key => _key;

    internal bool IsZero(long index, uint version) =>
        version == 0 || _allZero || SimMix.Mix(ZeroDecisionHash(index, version) ^ 0x5A5A5A5A5A5A5A5A) < _zeroThreshold;

    private ulong ZeroDecisionHash(long index, uint version) =>
        _zeroRunUnits == 1 ? Hash(index, version) : SimMix.Mix(_key, (ulong)(index / _zeroRunUnits), 0xFFFF_FFFFul);

    /// <summary>Writes bytes [offset, offset + dest.Length) of unit (index, version).</summary>
    internal void Fill(long index, uint version, int offset, Span<byte> dest)
    {
        if (IsZero(index, version))
        {
            dest.Clear();
            return;
        }
        Span<byte> stamp = stackalloc byte[StampBytes];
        int n = Split(index, version, offset, dest.Length, stamp, out ReadOnlySpan<byte> pool);
        stamp[..n].CopyTo(dest);
        pool.CopyTo(dest[n..]);
    }

    /// <summary>True when <paramref name="src"/> equals bytes [offset, offset + src.Length) of unit (index, version).</summary>
    internal bool Matches(long index, uint version, int offset, ReadOnlySpan<byte> src)
    {
        if (IsZero(index, version)) return !src.ContainsAnyExcept((byte)0);
        Span<byte> stamp = stackalloc byte[StampBytes];
        int n = Split(index, version, offset, src.Length, stamp, out ReadOnlySpan<byte> pool);
        return src[..n].SequenceEqual(stamp[..n]) && src[n..].SequenceEqual(pool);
    }

    /// <summary>
    /// Bytes [offset, offset + length) of a non-zero unit, in its two parts: the stamp bytes in range, moved
    /// to the start of <paramref name="stamp"/> (returns how many), then <paramref name="pool"/>, the rest.
    /// </summary>
    private int Split(long index, uint version, int offset, int length, Span<byte> stamp, out ReadOnlySpan<byte> pool)
    {
        ulong h = Hash(index, version);
        int n = 0;
        if (offset < StampBytes)
        {
            WriteStamp(stamp, index, version, h);
            n = Math.Min(StampBytes - offset, length);
            stamp.Slice(offset, n).CopyTo(stamp); // overlapping move to the front
        }
        pool = _pool.AsSpan(PoolOffset(h) + offset + n, length - n);
        return n;
    }

    private ulong Hash(long index, uint version) => SimMix.Mix(_key, (ulong)index, version);

    private static int PoolOffset(ulong h) => (int)(h % PoolBytes);

    private static void WriteStamp(Span<byte> stamp, long index, uint version, ulong h)
    {
        BinaryPrimitives.WriteInt64LittleEndian(stamp, index);
        BinaryPrimitives.WriteUInt32LittleEndian(stamp[8..], version);
        BinaryPrimitives.WriteUInt32LittleEndian(stamp[12..], (uint)h);
    }
}
