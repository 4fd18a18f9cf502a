namespace StreamKit.Tests.Vectors;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a fixed, documented algorithm, so test vectors and seeded
/// tests produce the same bytes on every runtime (System.Random's algorithm may change).
/// </summary>
internal sealed class DeterministicRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform enough for tests in [0, max).</summary>
    public int Next(int max) => max <= 1 ? 0 : (int)(NextUInt64() % (ulong)max);

    /// <summary>In [min, max].</summary>
    public int Between(int min, int max) => min + Next(max - min + 1);

    public bool Chance(int percent) => Next(100) < percent;

    public void Fill(Span<byte> destination)
    {
        while (destination.Length >= 8)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination, NextUInt64());
            destination = destination[8..];
        }
        if (!destination.IsEmpty)
        {
            Span<byte> last = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(last, NextUInt64());
            last[..destination.Length].CopyTo(destination);
        }
    }

    public byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        Fill(bytes);
        return bytes;
    }

    /// <summary>Compressible bytes: words from a small vocabulary with random separators.</summary>
    public byte[] Text(int length)
    {
        string[] words = ["vfio ", "migration ", "device ", "state ", "pre-copy ", "stop-copy ", "resuming ", "epoch ", "0000 ", "\n"];
        var bytes = new byte[length];
        int at = 0;
        while (at < length)
        {
            var word = words[Next(words.Length)];
            for (int i = 0; i < word.Length && at < length; i++) bytes[at++] = (byte)word[i];
        }
        return bytes;
    }
}
