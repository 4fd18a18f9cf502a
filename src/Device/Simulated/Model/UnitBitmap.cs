using System.Numerics;

namespace StreamKit.Device;

/// <summary>One bit per unit with a population count kept up to date (dirty / needs-sending tracking).</summary>
internal sealed class UnitBitmap
{
    private readonly ulong[] _words;

    internal UnitBitmap(int count, bool allSet)
    {
        Length = count;
        _words = new ulong[(count + 63) / 64];
        if (allSet)
        {
            Array.Fill(_words, ulong.MaxValue);
            if (count % 64 != 0) _words[^1] = (1UL << (count % 64)) - 1;
            SetCount = count;
        }
    }

    internal int Length { get; }

    internal long SetCount { get; private set; }

    internal bool this[long i] => (_words[i >> 6] & (1UL << (int)(i & 63))) != 0;

    internal void Set(long i)
    {
        ref ulong w = ref _words[i >> 6];
        ulong bit = 1UL << (int)(i & 63);
        if ((w & bit) == 0)
        {
            w |= bit;
            SetCount++;
        }
    }

    internal void Clear(long i)
    {
        ref ulong w = ref _words[i >> 6];
        ulong bit = 1UL << (int)(i & 63);
        if ((w & bit) != 0)
        {
            w &= ~bit;
            SetCount--;
        }
    }

    /// <summary>First set bit at or after <paramref name="from"/>, or -1.</summary>
    internal long NextSet(long from)
    {
        if (from >= Length) return -1;
        int wi = (int)(from >> 6);
        ulong w = _words[wi] & (ulong.MaxValue << (int)(from & 63));
        while (true)
        {
            if (w != 0) return ((long)wi << 6) + BitOperations.TrailingZeroCount(w);
            if (++wi == _words.Length) return -1;
            w = _words[wi];
        }
    }

    /// <summary>
    /// Takes the run of set bits starting at <paramref name="first"/> (which must be set) whose units
    /// share a version, up to <paramref name="maxCount"/> units, and clears them.
    /// </summary>
    internal UnitRun TakeRun(long first, uint[] versions, int maxCount)
    {
        uint version = versions[first];
        int count = 0;
        long i = first;
        while (count < maxCount && i < Length && this[i] && versions[i] == version)
        {
            Clear(i);
            count++;
            i++;
        }
        return new UnitRun(first, count, version);
    }
}
