using System.Buffers.Binary;

namespace StreamKit.Wire.Fuzzing;

/// <summary>Field-aware changes to one channel's preamble: version, length, stream id, channel numbering, capabilities, limits, role.</summary>
internal static class PreambleMutations
{
    internal static bool Apply(MutationContext m)
    {
        var rng = m.Rng;
        int ch = rng.Next(m.Channels.Count);
        var image = m.Channels[ch];
        if (image.Preamble.Length < Preamble.Size) return false;
        var p = image.Preamble;
        string what;
        switch (rng.Next(14))
        {
            case 0:
                U16(p, Preamble.MajorOffset, rng.Pick(new ushort[] { 0, 2, 0xFFFF, 0x0100 }));
                what = $"major → {R16(p, Preamble.MajorOffset)}";
                break;
            case 1:
                U16(p, Preamble.MinorOffset, rng.Pick(new ushort[] { 1, 7, 0xFFFF }));
                what = $"minor → {R16(p, Preamble.MinorOffset)} (must be accepted)";
                break;
            case 2:
            {
                // A longer preamble of a later minor (legal), or a length that lies about the bytes present.
                int extra = rng.Pick(new[] { 8, 16, Preamble.MaxLength - Preamble.Size, 8 * rng.Between(1, 40) });
                if (rng.Chance(60))
                {
                    var longer = new byte[p.Length + extra];
                    p.AsSpan(0, p.Length - 4).CopyTo(longer);
                    rng.Fill(longer.AsSpan(p.Length - 4, extra));
                    U32(longer, Preamble.LengthOffset, (uint)longer.Length);
                    if (rng.Chance(70)) U16(longer, Preamble.MinorOffset, 1);
                    image.Preamble = longer;
                    what = $"preamble grown to {longer.Length} bytes (newer-minor layout{(longer.Length > Preamble.MaxLength ? ", over the cap" : "")})";
                }
                else
                {
                    uint length = rng.Pick(new uint[] { 0, 16, 63, 65, 72, 4096, 4104, uint.MaxValue, (uint)p.Length + 8 });
                    U32(p, Preamble.LengthOffset, length);
                    what = $"length field → {length} (bytes unchanged)";
                }
                break;
            }
            case 3:
                p[Preamble.StreamIdOffset + rng.Next(16)] ^= (byte)(1 << rng.Next(8));
                what = "stream id changed";
                break;
            case 4:
            {
                ushort count = R16(p, Preamble.ChannelCountOffset);
                ushort index = rng.Next(3) switch { 0 => count, 1 => (ushort)((R16(p, Preamble.ChannelIndexOffset) + 1) % Math.Max((int)count, 1)), _ => ushort.MaxValue };
                U16(p, Preamble.ChannelIndexOffset, index);
                what = $"channel_index → {index} (of {count})";
                break;
            }
            case 5:
            {
                ushort count = R16(p, Preamble.ChannelCountOffset);
                ushort value = rng.Pick(new ushort[] { 0, (ushort)(count + 1), (ushort)(count - 1), ushort.MaxValue });
                U16(p, Preamble.ChannelCountOffset, value);
                what = $"channel_count {count} → {value}";
                break;
            }
            case 6:
            {
                uint caps = R32(p, Preamble.CapabilitiesOffset);
                uint value = rng.Next(5) switch
                {
                    0 => caps | (1u << rng.Between(3, 15)),                 // unknown mandatory
                    1 => caps | (1u << rng.Between(17, 31)),                // unknown optional: accepted
                    2 => caps ^ (uint)StreamCapabilities.Lz4,
                    3 => (caps | (uint)StreamCapabilities.SwitchoverAck) & ~(uint)StreamCapabilities.ReturnPath,
                    _ => rng.NextUInt32(),
                };
                U32(p, Preamble.CapabilitiesOffset, value);
                what = $"capabilities 0x{caps:X8} → 0x{value:X8}";
                break;
            }
            case 7:
            {
                uint old = R32(p, Preamble.MaxPayloadOffset);
                uint value = rng.Pick(new uint[] { 0, 4095, 4096, old / 2, old - 1, 8192, uint.MaxValue });
                U32(p, Preamble.MaxPayloadOffset, value);
                what = $"max_payload {old} → {value}";
                break;
            }
            case 8:
            {
                uint old = R32(p, Preamble.MaxDevicesOffset);
                uint value = rng.Pick(new uint[] { 0, 1, 2, uint.MaxValue });
                U32(p, Preamble.MaxDevicesOffset, value);
                what = $"max_devices {old} → {value}";
                break;
            }
            case 9:
                p[Preamble.RoleOffset] = rng.Pick(new byte[] { 1, 0, 2, 0xFF });
                what = $"role → {p[Preamble.RoleOffset]}";
                break;
            case 10:
                p[Preamble.RoleOffset + 1 + rng.Next(11)] = (byte)rng.Between(1, 255);
                what = "reserved preamble byte set (must be ignored)";
                break;
            case 11:
            {
                int at = rng.Next(8);
                p[at] ^= (byte)(rng.Chance(50) ? 0x80 : 1 << rng.Next(8));
                what = $"magic byte {at} damaged";
                break;
            }
            case 12:
                m.Channels[ch].KeepPreambleCrc = true;
                p[p.Length - 1 - rng.Next(4)] ^= (byte)(1 << rng.Next(8));
                what = "preamble CRC damaged";
                break;
            default:
                // Preambles of different channels disagree on a field the validator compares.
                if (m.Channels.Count < 2) goto case 3;
                int other = (ch + 1) % m.Channels.Count;
                var q = m.Channels[other].Preamble;
                if (q.Length < Preamble.Size) return false;
                int field = rng.Pick(new[] { Preamble.ChannelIndexOffset, Preamble.MaxPayloadOffset, Preamble.MaxDevicesOffset, Preamble.CapabilitiesOffset });
                p.AsSpan(field, 2).CopyTo(q.AsSpan(field));
                what = $"channel {other} copies bytes {field}..{field + 1} of channel {ch}'s preamble";
                break;
        }
        m.Log.Add($"ch{ch} preamble: {what}");
        return true;
    }

    private static ushort R16(byte[] p, int at) => BinaryPrimitives.ReadUInt16LittleEndian(p.AsSpan(at));
    private static uint R32(byte[] p, int at) => BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(at));
    private static void U16(byte[] p, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(p.AsSpan(at), v);
    private static void U32(byte[] p, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(at), v);
}
