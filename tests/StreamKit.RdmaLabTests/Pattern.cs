using System.Runtime.InteropServices;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// A deterministic byte stream: 8-byte word i is SplitMix64(seed + i), little-endian. Stands in
/// for device state: the producer writes it into a pipe (the source data_fd), the consumer
/// checks what comes out of the destination pipe against it, byte for byte.
/// </summary>
internal sealed class Pattern(ulong seed)
{
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Fills <paramref name="destination"/> with the stream bytes at <paramref name="offset"/>.</summary>
    internal void Fill(long offset, Span<byte> destination)
    {
        int lead = (int)(offset & 7);
        long word = offset >> 3;
        Span<byte> one = stackalloc byte[8];
        int done = 0;
        if (lead != 0)
        {
            MemoryMarshal.Write(one, Mix(seed + (ulong)word++));
            int n = Math.Min(8 - lead, destination.Length);
            one.Slice(lead, n).CopyTo(destination);
            done = n;
        }
        var rest = destination[done..];
        var words = MemoryMarshal.Cast<byte, ulong>(rest);
        for (int i = 0; i < words.Length; i++) words[i] = Mix(seed + (ulong)word++);
        int tail = rest.Length - words.Length * 8;
        if (tail > 0)
        {
            MemoryMarshal.Write(one, Mix(seed + (ulong)word));
            one[..tail].CopyTo(rest[(words.Length * 8)..]);
        }
    }

    /// <summary>Writes <paramref name="total"/> pattern bytes into <paramref name="sink"/> in random-sized writes, then closes it.</summary>
    internal void Produce(Stream sink, long total, int seedForSizes)
    {
        var rng = new Random(seedForSizes);
        var buffer = new byte[256 * 1024];
        long offset = 0;
        using (sink)
        {
            while (offset < total)
            {
                int n = (int)Math.Min(total - offset, rng.Next(1, buffer.Length + 1));
                Fill(offset, buffer.AsSpan(0, n));
                sink.Write(buffer, 0, n);
                offset += n;
            }
        }
    }

    /// <summary>Reads <paramref name="source"/> to its end, checking every byte; returns the byte count.</summary>
    /// <exception cref="InvalidDataException">The first differing byte, with its offset.</exception>
    internal long Verify(Stream source)
    {
        var buffer = new byte[256 * 1024];
        var expected = new byte[buffer.Length];
        long offset = 0;
        int n;
        while ((n = source.Read(buffer, 0, buffer.Length)) > 0)
        {
            Fill(offset, expected.AsSpan(0, n));
            int diff = buffer.AsSpan(0, n).CommonPrefixLength(expected.AsSpan(0, n));
            if (diff < n)
                throw new InvalidDataException($"byte {offset + diff} is 0x{buffer[diff]:X2}, expected 0x{expected[diff]:X2}");
            offset += n;
        }
        return offset;
    }
}
