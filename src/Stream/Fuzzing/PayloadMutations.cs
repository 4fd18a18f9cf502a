using System.Buffers.Binary;

namespace StreamKit.Wire.Fuzzing;

/// <summary>Field-aware changes to payload records (spec §4, §6) and to DATA/CONFIG payloads and LZ4 blocks.</summary>
internal static class PayloadMutations
{
    internal static bool Apply(MutationContext m)
    {
        if (!m.TryPickChunk(c => c.Payload.Length > 0, out int ch, out int i)) return false;
        var c = m.Chunk(ch, i);
        var rng = m.Rng;
        var p = c.Payload;
        string what;

        // Any record: a byte more or fewer (length rules), sometimes.
        if (rng.Chance(12) && c.Type is not (ChunkType.Data or ChunkType.Config))
        {
            int delta = rng.Chance(50) ? 1 : -Math.Min(p.Length, rng.Between(1, 8));
            var resized = new byte[p.Length + delta];
            p.AsSpan(0, Math.Min(p.Length, resized.Length)).CopyTo(resized);
            c.SetPayload(resized, alsoRaw: c.Flags.Codec() == PayloadCodec.Stored);
            m.Record(ch, i, $"record length {p.Length} → {resized.Length}");
            return true;
        }

        switch (c.Type)
        {
            case ChunkType.DeviceBegin when p.Length >= DeviceBeginRecord.FixedSize:
                switch (rng.Next(5))
                {
                    case 0:
                        U16(p, DeviceBeginRecord.NameLengthOffset, rng.Pick(new ushort[] { 0, 255, 256, 0xFFFF, (ushort)(R16(p, 16) + 1) }));
                        what = $"DEVICE_BEGIN name_len → {R16(p, DeviceBeginRecord.NameLengthOffset)}";
                        break;
                    case 1:
                        U16(p, DeviceBeginRecord.DriverLengthOffset, rng.Pick(new ushort[] { 0, 255, 256, 0xFFFF, (ushort)(R16(p, 18) - 1) }));
                        what = $"DEVICE_BEGIN driver_len → {R16(p, DeviceBeginRecord.DriverLengthOffset)}";
                        break;
                    case 2:
                        U32(p, DeviceBeginRecord.ReservedOffset, 1u << rng.Next(32));
                        what = "DEVICE_BEGIN reserved ≠ 0";
                        break;
                    case 3 when p.Length > DeviceBeginRecord.FixedSize:
                        p[rng.Between(DeviceBeginRecord.FixedSize, p.Length - 1)] = rng.Pick(new byte[] { 0xFF, 0xC0, 0x80, 0xED, 0xF8 });
                        what = "DEVICE_BEGIN string byte made invalid UTF-8";
                        break;
                    default:
                        U64(p, rng.Chance(50) ? 0 : 8, rng.NextUInt64());
                        what = "DEVICE_BEGIN migration flags / estimate changed (accepted)";
                        break;
                }
                break;

            case ChunkType.Discard when p.Length >= DiscardRecord.Size:
                switch (rng.Next(3))
                {
                    case 0: U32(p, 0, rng.Pick(new uint[] { 0, 3, uint.MaxValue })); what = $"DISCARD reason → {R32(p, 0)}"; break;
                    case 1: U32(p, 4, 1u << rng.Next(32)); what = "DISCARD reserved ≠ 0"; break;
                    default: U64(p, 8, rng.NextUInt64()); what = "DISCARD bytes_discarded changed (diagnostic only)"; break;
                }
                break;

            case ChunkType.DeviceEnd when p.Length >= DeviceEndRecord.Size:
            {
                int field = rng.Next(4);
                if (field < 2) U64(p, field * 8, (ulong)((long)R64(p, field * 8) + (rng.Chance(50) ? 1 : -1)));
                else U32(p, 16 + (field - 2) * 4, R32(p, 16 + (field - 2) * 4) ^ (1u << rng.Next(32)));
                what = $"DEVICE_END {(field switch { 0 => "data_bytes", 1 => "config_bytes", 2 => "data_crc32c", _ => "config_crc32c" })} changed";
                break;
            }

            case ChunkType.StreamEnd when p.Length >= StreamEndRecord.Size:
                switch (rng.Next(4))
                {
                    case 0: U32(p, 0, R32(p, 0) + (uint)(rng.Chance(50) ? 1 : -1)); what = "STREAM_END device_count ±1"; break;
                    case 1: U32(p, 4, 1); what = "STREAM_END reserved ≠ 0"; break;
                    case 2: U64(p, 8, R64(p, 8) + 1); what = "STREAM_END chunks_before + 1"; break;
                    default: U64(p, 16, R64(p, 16) ^ (1UL << rng.Next(20))); what = "STREAM_END device_bytes changed"; break;
                }
                break;

            case ChunkType.PrecopyInfo when p.Length >= PrecopyInfoRecord.Size:
                U64(p, rng.Chance(50) ? 0 : 8, rng.Chance(50) ? 0 : rng.NextUInt64());
                what = "PRECOPY_INFO values changed (accepted)";
                break;

            case ChunkType.Abort or ChunkType.Error when p.Length >= ReasonRecord.HeaderSize:
                switch (rng.Next(3))
                {
                    case 0: U32(p, 0, rng.Pick(new uint[] { 0, 999, uint.MaxValue })); what = $"reason → {R32(p, 0)}"; break;
                    case 1: U32(p, 4, rng.Pick(new uint[] { 1025, (uint)(p.Length - 7), uint.MaxValue, 0 })); what = $"text_len → {R32(p, 4)}"; break;
                    default:
                        if (p.Length == ReasonRecord.HeaderSize) goto case 1;
                        p[rng.Between(ReasonRecord.HeaderSize, p.Length - 1)] = 0xFF;
                        what = "reason text made invalid UTF-8";
                        break;
                }
                break;

            case ChunkType.FinalAck when p.Length >= FinalAckRecord.Size:
                U32(p, rng.Chance(50) ? 0 : 4, rng.NextUInt32());
                what = "FINAL_ACK status / device_count changed";
                break;

            default:
                if (c.Flags.Codec() == PayloadCodec.Lz4 && rng.Chance(60))
                {
                    switch (rng.Next(3))
                    {
                        case 0:
                            p[rng.Next(p.Length)] ^= (byte)(1 << rng.Next(8));
                            what = "LZ4 block bit flipped";
                            break;
                        case 1:
                        {
                            int cut = rng.Between(1, Math.Max(1, p.Length - 1));
                            c.SetPayload(p[..cut], alsoRaw: false);
                            what = $"LZ4 block cut to {cut} of {p.Length} bytes";
                            break;
                        }
                        default:
                            c.RawLength = (uint)((long)c.RawLength + (rng.Chance(50) ? 1 : -1));
                            what = $"LZ4 raw_length → {c.RawLength}";
                            break;
                    }
                }
                else
                {
                    p[rng.Next(p.Length)] ^= (byte)(1 << rng.Next(8));
                    what = "payload bit flipped";
                }
                break;
        }
        m.Record(ch, i, what);
        return true;
    }

    private static ushort R16(byte[] p, int at) => BinaryPrimitives.ReadUInt16LittleEndian(p.AsSpan(at));
    private static uint R32(byte[] p, int at) => BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(at));
    private static ulong R64(byte[] p, int at) => BinaryPrimitives.ReadUInt64LittleEndian(p.AsSpan(at));
    private static void U16(byte[] p, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(p.AsSpan(at), v);
    private static void U32(byte[] p, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(at), v);
    private static void U64(byte[] p, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(at), v);
}
