namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// Changes to chunk order and placement: drop, duplicate, swap, move across channels, reverse, splice
/// from another stream, end a channel differently, insert padding / unknown types / garbage, change the
/// set of channels, and floods that push device and reassembly limits.
/// </summary>
internal static class StructureMutations
{
    internal static bool Apply(MutationContext m)
    {
        var rng = m.Rng;
        var channels = m.Channels;
        m.StructureChanged = true;
        switch (rng.Next(17))
        {
            case 0:
            {
                if (!m.TryPickChunk(out int ch, out int i)) return false;
                m.Record(ch, i, "dropped");
                channels[ch].Chunks.RemoveAt(i);
                return true;
            }
            case 1:
            {
                if (!m.TryPickChunk(out int ch, out int i)) return false;
                int to = rng.Next(channels.Count);
                var chunks = channels[to].Chunks;
                int at = to == ch && rng.Chance(50) ? i + 1 : rng.Between(0, chunks.Count);
                m.Record(ch, i, $"duplicated to ch{to} position {at}");
                chunks.Insert(at, channels[ch].Chunks[i].Clone());
                return true;
            }
            case 2:
            {
                if (!m.TryPickChunk(out int ch, out int i) || channels[ch].Chunks.Count < 2) return false;
                int j = i + 1 < channels[ch].Chunks.Count ? i + 1 : i - 1;
                m.Record(ch, i, $"swapped with #{j}");
                (channels[ch].Chunks[i], channels[ch].Chunks[j]) = (channels[ch].Chunks[j], channels[ch].Chunks[i]);
                return true;
            }
            case 3:
            {
                if (!m.TryPickChunk(out int ch, out int i)) return false;
                int to = rng.Next(channels.Count);
                var chunk = channels[ch].Chunks[i];
                channels[ch].Chunks.RemoveAt(i);
                int at = rng.Between(0, channels[to].Chunks.Count);
                channels[to].Chunks.Insert(at, chunk);
                m.Log.Add($"ch{ch} #{i} {chunk.Label}: moved to ch{to} position {at}");
                return true;
            }
            case 4:
            {
                if (!m.TryPickChunk(out int ch, out int i)) return false;
                int n = Math.Min(rng.Between(2, 6), channels[ch].Chunks.Count - i);
                channels[ch].Chunks.Reverse(i, n);
                m.Record(ch, i, $"order of {n} chunks reversed");
                return true;
            }
            case 5:
            {
                // Splice chunks of another stream (or another place of this one) into a channel.
                var source = m.Donor ?? channels;
                var donorChunks = source.SelectMany(c => c.Chunks).ToList();
                if (donorChunks.Count == 0) return false;
                int to = rng.Next(channels.Count);
                int at = rng.Between(0, channels[to].Chunks.Count);
                int n = rng.Between(1, 3);
                int from = rng.Next(donorChunks.Count);
                for (int k = 0; k < n && from + k < donorChunks.Count; k++) channels[to].Chunks.Insert(at + k, donorChunks[from + k].Clone());
                bool replace = rng.Chance(40) && at + n < channels[to].Chunks.Count;
                if (replace) channels[to].Chunks.RemoveAt(at + n);
                m.Log.Add($"ch{to} position {at}: {n} chunk(s) spliced from {(m.Donor is null ? "this stream" : "another stream")} starting with {donorChunks[from].Label}{(replace ? ", replacing the next chunk" : "")}");
                return true;
            }
            case 6:
            {
                if (!m.TryPickChunk(c => c.Type == ChunkType.StreamEnd, out int ch, out int i)) return false;
                var chunk = channels[ch].Chunks[i];
                var reason = new ReasonRecord(rng.Chance(70) ? StreamErrorCode.SourceDeviceFailed : (StreamErrorCode)rng.Between(1, 999), rng.Chance(50) ? "source device reset in STOP_COPY" : "");
                var payload = new byte[reason.EncodedLength];
                reason.Encode(payload);
                chunk.Type = ChunkType.Abort;
                chunk.SetPayload(payload, alsoRaw: true);
                m.Record(ch, i, $"STREAM_END replaced by ABORT ({(uint)reason.Reason})");
                return true;
            }
            case 7:
            {
                if (!m.TryPickChunk(c => ChunkTypeRules.IsTerminal(c.Type), out int ch, out int i)) return false;
                m.Record(ch, i, "terminal chunk removed (channel ends without it)");
                channels[ch].Chunks.RemoveAt(i);
                return true;
            }
            case 8:
            {
                int to = rng.Next(channels.Count);
                int at = rng.Between(0, channels[to].Chunks.Count);
                uint limit = m.AnnouncedLimit;
                int length = rng.Pick(new[] { 0, 1, rng.Between(2, 300), (int)Math.Min(limit, 65536), (int)Math.Min(limit + 1, 65537) });
                channels[to].Chunks.Insert(at, NewChunk(ChunkType.Padding, ChunkFlags.None, 0, 0, 0, 0, new byte[length]));
                m.Log.Add($"ch{to} position {at}: PADDING of {length} bytes inserted");
                return true;
            }
            case 9:
            {
                int to = rng.Next(channels.Count);
                int at = rng.Between(0, channels[to].Chunks.Count);
                var type = (ChunkType)rng.Pick(new[] { 0x0B, 0x1C, 0x1D, 0x1F, 0x24, 0x3E, 0x80 });
                var flags = rng.Chance(75) ? ChunkFlags.Optional : ChunkFlags.None;
                var devices = m.Devices();
                ushort device = rng.Chance(50) && devices.Count > 0 ? rng.Pick(devices) : (ushort)0;
                var neighbour = at < channels[to].Chunks.Count ? channels[to].Chunks[at] : null;
                uint epoch = device != 0 && neighbour is not null ? neighbour.Epoch : 0;
                ulong sequence = device != 0 && neighbour is not null ? neighbour.Sequence : 0;
                channels[to].Chunks.Insert(at, NewChunk(type, flags, device, epoch, sequence, 0, rng.Bytes(rng.Between(0, 40))));
                m.Log.Add($"ch{to} position {at}: unknown type 0x{(byte)type:X2} flags 0x{(byte)flags:X2} device {device} inserted");
                return true;
            }
            case 10:
            {
                if (!m.TryPickChunk(out int ch, out int i)) return false;
                var garbage = rng.Chance(50) ? rng.Bytes(rng.Between(1, 60)) : new byte[rng.Between(1, 8)];
                channels[ch].Chunks[i].Before = garbage;
                m.Record(ch, i, $"{garbage.Length} stray bytes inserted in front");
                return true;
            }
            case 11:
            {
                if (channels.Count < 2) goto case 12;
                int ch = rng.Next(channels.Count);
                channels.RemoveAt(ch);
                m.Log.Add($"channel {ch} never connects");
                return true;
            }
            case 12:
            {
                int ch = rng.Next(channels.Count);
                channels.Insert(rng.Between(0, channels.Count), channels[ch].Clone());
                m.Log.Add($"channel {ch} connected twice");
                return true;
            }
            case 13:
            {
                if (channels.Count < 2) goto case 14;
                int a = rng.Next(channels.Count), b = (a + 1) % channels.Count;
                (channels[a], channels[b]) = (channels[b], channels[a]);
                m.Log.Add($"channels {a} and {b} connect in swapped order");
                return true;
            }
            case 14:
            {
                int ch = rng.Next(channels.Count);
                channels[ch].Tail = [.. channels[ch].Tail, .. rng.Bytes(rng.Between(1, 100))];
                m.Log.Add($"ch{ch}: bytes appended after the last chunk");
                return true;
            }
            case 15:
            {
                // Flood of announcements: more devices than announced/allowed.
                int to = rng.Next(channels.Count);
                int n = rng.Between(2, 40);
                int at = rng.Between(0, channels[to].Chunks.Count);
                for (int k = 0; k < n; k++)
                {
                    var begin = new DeviceBeginRecord(1, DeviceBeginRecord.UnknownEstimate, $"flood{k}", "");
                    var payload = new byte[begin.EncodedLength];
                    begin.Encode(payload);
                    channels[to].Chunks.Insert(at + k, NewChunk(ChunkType.DeviceBegin, ChunkFlags.None, (ushort)(40000 + k), 0, 0, 0, payload));
                }
                m.Log.Add($"ch{to} position {at}: {n} DEVICE_BEGINs of new devices inserted");
                return true;
            }
            default:
            {
                // Hoist the later half of a device's chunks to the front of another channel: they arrive early
                // and must be held (bounded) for reassembly, or rejected on a single channel.
                var devices = m.Devices();
                if (devices.Count == 0) return false;
                ushort device = rng.Pick(devices);
                int to = rng.Next(channels.Count);
                var moved = new List<ChunkImage>();
                foreach (var image in channels)
                {
                    var own = image.Chunks.Where(c => c.Device == device).ToList();
                    foreach (var c in own.Skip(own.Count / 2))
                    {
                        image.Chunks.Remove(c);
                        moved.Add(c);
                    }
                }
                channels[to].Chunks.InsertRange(0, moved);
                m.Log.Add($"{moved.Count} later chunks of device {device} moved to the front of ch{to}");
                return true;
            }
        }
    }

    internal static ChunkImage NewChunk(ChunkType type, ChunkFlags flags, ushort device, uint epoch, ulong sequence, ulong offset, byte[] payload)
    {
        var header = new byte[ChunkHeader.Size];
        new ChunkHeader(type, flags, device, epoch, sequence, offset, (uint)payload.Length, (uint)payload.Length,
            payload.Length == 0 ? 0 : Crc32C.Compute(payload)).Encode(header);
        return new ChunkImage(header, payload);
    }
}
