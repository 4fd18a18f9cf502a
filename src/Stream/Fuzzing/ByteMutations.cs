namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// Unstructured damage, applied to the serialized channel after any CRC resealing: truncation (at a
/// chunk boundary, inside a header, a payload or the preamble, or anywhere), bit flips, overwrites,
/// insertions and deletions.
/// </summary>
internal static class ByteMutations
{
    /// <summary>Chooses a byte mutation now (so choices stay in order) and defers it until the bytes exist.</summary>
    internal static bool Plan(MutationContext m)
    {
        var rng = m.Rng;
        int ch = rng.Next(m.Channels.Count);
        var image = m.Channels[ch];
        int kind = rng.Next(6);
        // Draw every number now; positions are fractions of whatever length the channel ends up with.
        ulong r1 = rng.NextUInt64(), r2 = rng.NextUInt64();
        switch (kind)
        {
            case 0:
            {
                // Truncate at a structural point of the image as it is now.
                var cuts = new List<(long At, string Where)> { (rng.Next(Math.Max(1, image.Preamble.Length)), "inside the preamble") };
                long at = image.Preamble.Length;
                foreach (var chunk in image.Chunks)
                {
                    at += chunk.Before.Length;
                    cuts.Add((at, $"at the start of {chunk.Label}"));
                    cuts.Add((at + 1 + (long)(r2 % (ChunkHeader.Size - 1)), $"inside the header of {chunk.Label}"));
                    if (chunk.Payload.Length > 1) cuts.Add((at + ChunkHeader.Size + 1 + (long)(r2 % (ulong)(chunk.Payload.Length - 1)), $"inside the payload of {chunk.Label}"));
                    at += ChunkHeader.Size + chunk.Payload.Length;
                }
                var (cut, where) = cuts[(int)(r1 % (ulong)cuts.Count)];
                m.Log.Add($"ch{ch} truncated {where} (byte {cut})");
                m.Deferred.Add((ch, bytes => bytes[..(int)Math.Min(cut, bytes.Length)]));
                return true;
            }
            case 1:
            {
                int flips = 1 + (int)(r2 % 4);
                m.Log.Add($"ch{ch}: {flips} random bit(s) flipped");
                m.Deferred.Add((ch, bytes =>
                {
                    var local = new FuzzRandom(r1);
                    for (int i = 0; i < flips && bytes.Length > 0; i++) bytes[local.Next(bytes.Length)] ^= (byte)(1 << local.Next(8));
                    return bytes;
                }));
                return true;
            }
            case 2:
            {
                m.Log.Add($"ch{ch}: a few bytes overwritten with boundary values");
                m.Deferred.Add((ch, bytes =>
                {
                    var local = new FuzzRandom(r1);
                    if (bytes.Length == 0) return bytes;
                    int at = local.Next(bytes.Length);
                    int n = Math.Min(local.Between(1, 8), bytes.Length - at);
                    byte value = local.Pick(new byte[] { 0x00, 0xFF, 0x7F, 0x80, 0x01 });
                    bytes.AsSpan(at, n).Fill(value);
                    return bytes;
                }));
                return true;
            }
            case 3:
            {
                m.Log.Add($"ch{ch}: random bytes inserted");
                m.Deferred.Add((ch, bytes =>
                {
                    var local = new FuzzRandom(r1);
                    int at = local.Between(0, bytes.Length);
                    return [.. bytes.AsSpan(0, at), .. local.Bytes(local.Between(1, 64)), .. bytes.AsSpan(at)];
                }));
                return true;
            }
            case 4:
            {
                m.Log.Add($"ch{ch}: a byte range deleted");
                m.Deferred.Add((ch, bytes =>
                {
                    var local = new FuzzRandom(r1);
                    if (bytes.Length == 0) return bytes;
                    int at = local.Next(bytes.Length);
                    int n = Math.Min(local.Between(1, 100), bytes.Length - at);
                    return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + n)];
                }));
                return true;
            }
            default:
            {
                long cut = (long)(r1 % 100);
                m.Log.Add($"ch{ch} truncated at {cut}% of its length");
                m.Deferred.Add((ch, bytes => bytes[..(int)(bytes.Length * cut / 100)]));
                return true;
            }
        }
    }

    /// <summary>Applies the deferred byte mutations in the order they were chosen.</summary>
    internal static void Execute(MutationContext m, byte[][] channels)
    {
        foreach (var (channel, apply) in m.Deferred)
        {
            // A structure mutation may have removed the channel since; damage the last one instead.
            int c = Math.Min(channel, channels.Length - 1);
            channels[c] = apply(channels[c]);
        }
    }
}
