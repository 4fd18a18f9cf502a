namespace StreamKit.Wire.Fuzzing;

/// <summary>Field-aware changes to one chunk header: lengths, type, flags, device, epoch, sequence, offset, reserved, sync and CRCs.</summary>
internal static class HeaderMutations
{
    private static readonly ChunkType[] Types =
    [
        ChunkType.DeviceBegin, ChunkType.Data, ChunkType.ZeroRun, ChunkType.Config, ChunkType.PrecopyInfo, ChunkType.Discard,
        ChunkType.DeviceEnd, ChunkType.StreamEnd, ChunkType.Abort, ChunkType.Padding,
        ChunkType.Ack, ChunkType.SwitchoverAck, ChunkType.Error, ChunkType.FinalAck,
        (ChunkType)0x00, (ChunkType)0x0B, (ChunkType)0x1C, (ChunkType)0x1F, (ChunkType)0x24, (ChunkType)0x3F, (ChunkType)0x40, (ChunkType)0xFF,
    ];

    /// <summary>Largest payload a resize produces.</summary>
    internal const uint MaxResizedPayload = 128 * 1024 + 1;

    internal static bool Apply(MutationContext m)
    {
        if (!m.TryPickChunk(out int ch, out int i)) return false;
        var c = m.Chunk(ch, i);
        var rng = m.Rng;
        uint limit = m.AnnouncedLimit;
        switch (rng.Next(13))
        {
            case 0: // resize a stored payload consistently, or lie about its length
            {
                uint old = c.WireLength;
                // Boundaries: the announced limit and the 64 KiB local limit the in-process targets use;
                // capped so cases stay small (a real 16 MiB payload tests memory, not parsing).
                uint length = rng.Next(4) switch
                {
                    0 => limit,
                    1 => limit + 1,
                    2 => rng.Pick(new uint[] { 65536, 65537 }),
                    _ => (uint)rng.Interesting(old, uint.MaxValue),
                };
                length = Math.Min(length, MaxResizedPayload);
                if (c.Flags.Codec() == PayloadCodec.Stored && c.Type != ChunkType.ZeroRun && rng.Chance(70))
                {
                    var payload = new byte[length];
                    c.Payload.AsSpan(0, (int)Math.Min(length, (uint)c.Payload.Length)).CopyTo(payload);
                    if (length > old) rng.Fill(payload.AsSpan((int)old));
                    c.SetPayload(payload, alsoRaw: true);
                    m.Record(ch, i, $"payload resized {old} → {length} bytes (wire and raw lengths follow)");
                }
                else
                {
                    c.WireLength = (uint)rng.Interesting(old, uint.MaxValue);
                    m.Record(ch, i, $"wire_length {old} → {c.WireLength} (payload kept: framing breaks)");
                }
                return true;
            }
            case 1:
            {
                uint old = c.RawLength;
                c.RawLength = rng.Chance(50) ? (uint)rng.Interesting(old, uint.MaxValue) : (uint)rng.Pick(new[] { limit, limit + 1, 0u, old + 1, old - 1, uint.MaxValue });
                m.Record(ch, i, $"raw_length {old} → {c.RawLength}");
                return true;
            }
            case 2:
            {
                var old = c.Type;
                c.Type = rng.Pick(Types);
                if (rng.Chance(30)) c.Flags ^= ChunkFlags.Optional;
                m.Record(ch, i, $"type {ChunkTypeRules.Name(old)} → {ChunkTypeRules.Name(c.Type)}, flags 0x{(byte)c.Flags:X2}");
                return true;
            }
            case 3:
            {
                var old = c.Flags;
                c.Flags = rng.Next(5) switch
                {
                    0 => old ^ (ChunkFlags)(1 << rng.Next(8)),
                    1 => (ChunkFlags)(((byte)old & ~ChunkFlagBits.CodecMask) | (rng.Between(2, 3) << ChunkFlagBits.CodecShift)),
                    2 => old ^ ChunkFlags.Lz4,
                    3 => old ^ ChunkFlags.StopCopy,
                    _ => old ^ ChunkFlags.Optional,
                };
                m.Record(ch, i, $"flags 0x{(byte)old:X2} → 0x{(byte)c.Flags:X2}");
                return true;
            }
            case 4:
            {
                ushort old = c.Device;
                var devices = m.Devices();
                c.Device = rng.Next(5) switch
                {
                    0 => 0,
                    1 => devices.Count > 0 ? rng.Pick(devices) : (ushort)1,
                    2 => ushort.MaxValue,
                    3 => (ushort)(old + 1),
                    _ => (ushort)rng.Between(1, ushort.MaxValue),
                };
                m.Record(ch, i, $"device {old} → {c.Device}");
                return true;
            }
            case 5:
            {
                uint old = c.Epoch;
                c.Epoch = (uint)rng.Interesting(old, uint.MaxValue);
                m.Record(ch, i, $"epoch {old} → {c.Epoch}");
                return true;
            }
            case 6:
            {
                ulong old = c.Sequence;
                c.Sequence = rng.Next(4) switch { 0 => old + 1, 1 => old - 1, 2 => 0, _ => rng.Interesting(old, ulong.MaxValue) };
                m.Record(ch, i, $"sequence {old} → {c.Sequence}");
                return true;
            }
            case 7:
            {
                ulong old = c.Offset;
                c.Offset = rng.Next(3) switch { 0 => old + 1, 1 => old - 1, _ => rng.Interesting(old, ulong.MaxValue) };
                m.Record(ch, i, $"offset {old} → {c.Offset}");
                return true;
            }
            case 8:
                c.Reserved = rng.Chance(50) ? 1u << rng.Next(32) : rng.NextUInt32() | 1;
                m.Record(ch, i, $"reserved header field → 0x{c.Reserved:X8}");
                return true;
            case 9:
                c.Sync ^= 1u << rng.Next(32);
                c.KeepHeaderCrc = true;
                m.Record(ch, i, $"sync word → 0x{c.Sync:X8}");
                return true;
            case 10:
                c.KeepHeaderCrc = true;
                c.HeaderCrc ^= 1u << rng.Next(32);
                m.Record(ch, i, "header CRC damaged");
                return true;
            case 11:
                c.KeepPayloadCrc = true;
                c.PayloadCrc = c.Payload.Length == 0 ? rng.NextUInt32() | 1 : Crc32C.Compute(c.Payload) ^ (1u << rng.Next(32));
                m.Record(ch, i, "payload CRC damaged");
                return true;
            default: // a header copied from another chunk, with this chunk's payload
            {
                if (!m.TryPickChunk(out int ch2, out int i2)) return false;
                var other = m.Chunk(ch2, i2);
                other.Header.AsSpan(ChunkHeader.TypeOffset, ChunkHeader.WireLengthOffset - ChunkHeader.TypeOffset).CopyTo(c.Header.AsSpan(ChunkHeader.TypeOffset));
                m.Record(ch, i, $"type/flags/device/epoch/sequence/offset copied from ch{ch2} #{i2}");
                return true;
            }
        }
    }
}
