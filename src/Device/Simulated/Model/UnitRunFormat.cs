using System.Buffers.Binary;

namespace StreamKit.Device;

/// <summary>
/// The simulator's own state-stream framing (used by the bulk stream, inside mlx5 FW_DATA records
/// and after hisi's match data). All little-endian.
/// Run header, 32 bytes:
/// <code>
/// 0  u32 magic 0x4E55524B ("KRUN")
/// 4  u16 kind: 1 = units, 2 = end
/// 6  u16 reserved, 0
/// 8  u64 first unit index (units) | total unit count (end)
/// 16 u32 units in the run, 1..MaxUnitsPerRun (units) | 0 (end)
/// 20 u32 version of every unit in the run, ≥ 1 (units) | 0 (end)
/// 24 u64 check = mix(content key, kind, field@8, field@16, field@20)
/// </code>
/// A units run is followed by count × unit-size bytes of content. The end record is followed by
/// a 32-byte payload: 0 u64 state digest | 8 u64 run bytes before the end record |
/// 16 u64 unit size | 24 u64 check = mix(content key, digest, bytes, unit size).
/// </summary>
internal static class UnitRunFormat
{
    internal const uint Magic = 0x4E55524B;
    internal const int HeaderBytes = 32;
    internal const int EndPayloadBytes = 32;
    internal const int EndRecordBytes = HeaderBytes + EndPayloadBytes;
    internal const ushort KindUnits = 1;
    internal const ushort KindEnd = 2;
    internal const int MaxUnitsPerRun = 256;

    internal static long RunBytes(int count, int unitSize) => HeaderBytes + (long)count * unitSize;

    internal static ulong HeaderCheck(ulong key, ushort kind, ulong a, uint count, uint version) =>
        SimMix.Mix(SimMix.Mix(key, kind), a, ((ulong)count << 32) | version);

    internal static ulong EndCheck(ulong key, ulong digest, ulong bytes, ulong unitSize) =>
        SimMix.Mix(SimMix.Mix(key, digest), bytes, unitSize);

    internal static void WriteUnitsHeader(Span<byte> h, ulong key, long first, int count, uint version)
    {
        WriteHeader(h, KindUnits, (ulong)first, (uint)count, version);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], HeaderCheck(key, KindUnits, (ulong)first, (uint)count, version));
    }

    internal static void WriteEndRecord(Span<byte> r, ulong key, long unitCount, ulong digest, long bytesBefore, int unitSize)
    {
        WriteHeader(r, KindEnd, (ulong)unitCount, 0, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(r[24..], HeaderCheck(key, KindEnd, (ulong)unitCount, 0, 0));
        BinaryPrimitives.WriteUInt64LittleEndian(r[32..], digest);
        BinaryPrimitives.WriteUInt64LittleEndian(r[40..], (ulong)bytesBefore);
        BinaryPrimitives.WriteUInt64LittleEndian(r[48..], (ulong)unitSize);
        BinaryPrimitives.WriteUInt64LittleEndian(r[56..], EndCheck(key, digest, (ulong)bytesBefore, (ulong)unitSize));
    }

    private static void WriteHeader(Span<byte> h, ushort kind, ulong a, uint count, uint version)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(h, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], kind);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], a);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], count);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], version);
    }
}
