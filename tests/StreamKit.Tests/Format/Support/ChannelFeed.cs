using System.Buffers;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;

namespace StreamKit.Tests.Format.Support;

/// <summary>
/// Replays one channel into a <see cref="ChunkReader"/> the way a PipeReader would: the visible input
/// grows one segment at a time, unconsumed bytes stay visible, and at the end Finish is called.
/// </summary>
internal sealed class ChannelFeed
{
    private readonly ReadOnlySequence<byte> _all;
    private readonly List<SequencePosition> _ends;
    private int _next;
    private SequencePosition _consumed;
    private bool _preambleDelivered;

    public ChannelFeed(byte[] bytes, DeterministicRandom rng, ChunkReaderOptions? options = null)
    {
        _all = Segments.Split(bytes, Segments.RandomSizes(rng, bytes.Length), out _ends);
        _consumed = _all.Start;
        Reader = new ChunkReader(options);
    }

    public ChunkReader Reader { get; }
    public bool Done { get; private set; }

    /// <summary>Lets one more segment arrive and hands every complete item to the callbacks.</summary>
    public void Step(Action<Preamble> onPreamble, Action<Chunk> onChunk)
    {
        if (Done) return;
        bool last = _next >= _ends.Count - 1;
        var end = _ends[Math.Min(_next++, _ends.Count - 1)];
        var buffer = _all.Slice(_consumed, end);
        if (!_preambleDelivered)
        {
            if (!Reader.TryReadPreamble(ref buffer, out var preamble))
            {
                if (last) Reader.Finish(buffer);
                return;
            }
            _preambleDelivered = true;
            onPreamble(preamble);
        }
        while (Reader.TryReadChunk(ref buffer, out var chunk)) onChunk(chunk);
        _consumed = buffer.Start;
        if (last)
        {
            Reader.Finish(buffer);
            Done = true;
        }
    }
}
