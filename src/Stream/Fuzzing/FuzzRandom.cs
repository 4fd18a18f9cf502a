using System.Buffers.Binary;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a fixed, documented algorithm, so a case generated from
/// (seed, iteration) is the same bytes on every runtime and every machine (System.Random's seeded
/// algorithm is an implementation detail). Not for anything security-related.
/// </summary>
internal sealed class FuzzRandom(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The generator for one case: independent streams for neighbouring iterations.</summary>
    internal static FuzzRandom For(ulong seed, long iteration, ulong salt = 0)
    {
        var mixer = new FuzzRandom(seed ^ (salt * 0xD1B54A32D192ED03));
        ulong a = mixer.NextUInt64();
        return new FuzzRandom(a ^ ((ulong)iteration * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019));
    }

    internal ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    internal uint NextUInt32() => (uint)(NextUInt64() >> 32);

    /// <summary>In [0, max); 0 when max ≤ 1.</summary>
    internal int Next(int max) => max <= 1 ? 0 : (int)(NextUInt64() % (ulong)max);

    /// <summary>In [min, max].</summary>
    internal int Between(int min, int max) => max <= min ? min : min + Next(max - min + 1);

    internal bool Chance(int percent) => Next(100) < percent;

    internal T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Index chosen with the given relative weights.</summary>
    internal int Weighted(ReadOnlySpan<int> weights)
    {
        int total = 0;
        foreach (int w in weights) total += w;
        int roll = Next(total);
        for (int i = 0; i < weights.Length; i++)
        {
            if (roll < weights[i]) return i;
            roll -= weights[i];
        }
        return weights.Length - 1;
    }

    internal void Fill(Span<byte> destination)
    {
        while (destination.Length >= 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination, NextUInt64());
            destination = destination[8..];
        }
        if (destination.IsEmpty) return;
        Span<byte> last = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(last, NextUInt64());
        last[..destination.Length].CopyTo(destination);
    }

    internal byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        Fill(bytes);
        return bytes;
    }

    /// <summary>Compressible bytes (words of a small vocabulary), the kind LZ4 shrinks.</summary>
    internal byte[] Text(int length)
    {
        ReadOnlySpan<string> words = ["vfio ", "migration ", "device ", "state ", "pre-copy ", "stop-copy ", "resuming ", "epoch ", "0000 ", "\n"];
        var bytes = new byte[length];
        int at = 0;
        while (at < length)
        {
            string word = words[Next(words.Length)];
            for (int i = 0; i < word.Length && at < length; i++) bytes[at++] = (byte)word[i];
        }
        return bytes;
    }

    /// <summary>A value that tends to sit on a boundary of <paramref name="around"/> or of the field's range.</summary>
    internal ulong Interesting(ulong around, ulong fieldMax) => Next(12) switch
    {
        0 => 0,
        1 => 1,
        2 => around + 1,
        3 => around - 1,
        4 => fieldMax,
        5 => fieldMax - 1,
        6 => fieldMax / 2 + 1,
        7 => around * 2,
        8 => around ^ (1UL << Next(64)),
        9 => NextUInt64(),
        10 => around + (ulong)Between(2, 64),
        _ => (ulong)Between(0, 70000),
    } & fieldMax;
}
