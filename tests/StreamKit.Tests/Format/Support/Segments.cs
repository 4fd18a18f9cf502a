using System.Buffers;
using StreamKit.Tests.Vectors;

namespace StreamKit.Tests.Format.Support;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a pipe or socket delivers them.</summary>
internal static class Segments
{
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    /// <summary>Splits <paramref name="data"/> into segments of the given sizes (each its own array, the last takes the rest).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, IEnumerable<int> sizes) => Split(data, sizes, out _);

    /// <summary>As <see cref="Split(byte[], IEnumerable{int})"/>, also giving the position at the end of every segment.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, IEnumerable<int> sizes, out List<SequencePosition> segmentEnds)
    {
        var ends = new List<SequencePosition>();
        var sequence = Build(data, sizes, ends);
        segmentEnds = ends;
        return sequence;
    }

    private static ReadOnlySequence<byte> Build(byte[] data, IEnumerable<int> sizes, List<SequencePosition> ends)
    {
        Segment? first = null, last = null;
        int at = 0;
        foreach (int size in sizes)
        {
            if (at >= data.Length) break;
            int n = Math.Min(Math.Max(size, 1), data.Length - at);
            last = new Segment(data.AsSpan(at, n).ToArray(), last);
            first ??= last;
            ends.Add(new SequencePosition(last, n));
            at += n;
        }
        if (at < data.Length || first is null)
        {
            last = new Segment(data.AsMemory(at).ToArray(), last);
            first ??= last;
            ends.Add(new SequencePosition(last, last.Memory.Length));
        }
        return new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    /// <summary>Random segment sizes: sometimes all 1 byte, sometimes small, sometimes large.</summary>
    public static IEnumerable<int> RandomSizes(DeterministicRandom rng, int total)
    {
        int mode = rng.Next(4);
        int produced = 0;
        while (produced < total)
        {
            int size = mode switch
            {
                0 => 1,
                1 => rng.Between(1, 7),
                2 => rng.Between(1, 300),
                _ => rng.Between(1, 5000),
            };
            produced += size;
            yield return size;
        }
    }
}
