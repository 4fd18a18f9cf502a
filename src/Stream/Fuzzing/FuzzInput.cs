using System.Buffers;
using System.Buffers.Binary;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// How multi-channel inputs are packed into the single byte string a fuzzer mutates, and how a
/// channel is cut into the segments a pipe or socket would deliver. The layout is flat and
/// forgiving so byte-level fuzzers (AFL++) keep producing meaningful inputs:
/// <code>
/// off size field
///   0   1  control   bits 0-1 channel count - 1 (1..4), bits 2-4 segmentation mode, bits 5-7 interleaving mode
///   1   1  seed      segmentation / interleaving seed
///   2   4  length    of channel 0 (u32, clamped to what is left) — repeated for every channel but the last
///   …   n  bytes     of that channel; the last channel takes the rest of the input
/// </code>
/// </summary>
internal static class FuzzInput
{
    internal const int MaxChannels = 4;
    internal const int SegmentModes = 8;
    internal const int InterleaveModes = 8;

    internal readonly record struct Bundle(byte[][] Channels, int SegmentMode, int InterleaveMode, byte Seed);

    internal static byte[] Pack(IReadOnlyList<byte[]> channels, int segmentMode, int interleaveMode, byte seed)
    {
        int count = Math.Clamp(channels.Count, 1, MaxChannels);
        var packed = new List<byte>(2 + channels.Take(count).Sum(c => c.Length + 4))
        {
            (byte)((count - 1) | ((segmentMode & 7) << 2) | ((interleaveMode & 7) << 5)),
            seed,
        };
        Span<byte> length = stackalloc byte[4];
        for (int i = 0; i < count; i++)
        {
            byte[] channel = i < channels.Count ? channels[i] : [];
            if (i < count - 1)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)channel.Length);
                packed.AddRange(length.ToArray());
            }
            packed.AddRange(channel);
        }
        return [.. packed];
    }

    internal static Bundle Unpack(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2) return new Bundle([input.ToArray()], 0, 0, 0);
        int count = (input[0] & 3) + 1;
        int segmentMode = (input[0] >> 2) & 7;
        int interleaveMode = input[0] >> 5;
        byte seed = input[1];
        var rest = input[2..];
        var channels = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            if (i == count - 1)
            {
                channels[i] = rest.ToArray();
                break;
            }
            int length = 0;
            if (rest.Length >= 4)
            {
                length = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(rest), (uint)(rest.Length - 4));
                rest = rest[4..];
            }
            else
            {
                rest = [];
            }
            channels[i] = rest[..length].ToArray();
            rest = rest[length..];
        }
        return new Bundle(channels, segmentMode, interleaveMode, seed);
    }

    /// <summary>Cuts <paramref name="data"/> into segments (each its own array) the way <paramref name="mode"/> says.</summary>
    internal static ReadOnlySequence<byte> Segment(byte[] data, int mode, ulong seed, List<SequencePosition> ends)
    {
        var rng = new FuzzRandom(seed);
        if (mode == 1 && data.Length > 8192) mode = 7; // one byte at a time only for small inputs (time)
        Piece? first = null, last = null;
        int at = 0;
        while (at < data.Length || first is null)
        {
            int size = mode switch
            {
                0 => data.Length,
                1 => 1,
                2 => rng.Between(1, 7),
                3 => rng.Between(1, 300),
                4 => rng.Between(1, 5000),
                5 => rng.Between(ChunkHeader.Size - 2, ChunkHeader.Size + 2),
                6 => rng.Between(1, Math.Max(1, data.Length / 2)),
                _ => rng.Between(1, 64),
            };
            size = Math.Min(Math.Max(size, 0), data.Length - at);
            last = new Piece(data.AsSpan(at, size).ToArray(), last);
            first ??= last;
            ends.Add(new SequencePosition(last, size));
            at += size;
        }
        return new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Piece : ReadOnlySequenceSegment<byte>
    {
        internal Piece(ReadOnlyMemory<byte> memory, Piece? previous)
        {
            Memory = memory;
            if (previous is null) return;
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
        }
    }
}

/// <summary>
/// Replays one channel the way a PipeReader delivers it: each <see cref="Arrive"/> makes one more
/// segment visible, unconsumed bytes stay visible, and the last arrival says so.
/// </summary>
internal sealed class ChannelPump
{
    private readonly ReadOnlySequence<byte> _all;
    private readonly List<SequencePosition> _ends = [];
    private SequencePosition _consumed;
    private int _next;

    internal ChannelPump(byte[] data, int mode, ulong seed)
    {
        _all = FuzzInput.Segment(data, mode, seed, _ends);
        _consumed = _all.Start;
        Length = data.Length;
    }

    internal int Length { get; }
    internal bool Done => _next >= _ends.Count;

    internal ReadOnlySequence<byte> Arrive(out bool last)
    {
        var end = _ends[_next++];
        last = _next >= _ends.Count;
        return _all.Slice(_consumed, end);
    }

    internal void Consumed(SequencePosition position) => _consumed = position;
}
