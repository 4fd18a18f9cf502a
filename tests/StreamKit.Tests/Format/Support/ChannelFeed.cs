using System.Buffers;
using StreamKit.Wire;

namespace StreamKit.Tests.Format.Support;

/// <summary>
/// Replays one channel into a <see cref="ChunkReader"/> the way a PipeReader would: the visible input
/// grows one segment at a time, unconsumed bytes stay visible, and at the end Finish is called.
/// </summary>
internal sealed class ChannelFeed
{
    private readonly ReadOnlySequence<byte> _all;
    private readonly List<long> _arrivals = [];
    private int _next;
    private long _consumed;
    private bool _preambleDelivered;

    public ChannelFeed(ReadOnlySequence<byte> all, ChunkReaderOptions? options = null)
    {
        _all = all;
        long at = 0;
        foreach (var segment in all)
        {
            at += segment.Length;
            _arrivals.Add(at);
        }
        Reader = new ChunkReader(options);
    }

    public ChunkReader Reader { get; }
    public bool Done { get; private set; }

    /// <summary>Lets one more segment arrive and hands every complete item to the callbacks; false when input is exhausted and finished.</summary>
    public bool Step(Action<Preamble> onPreamble, Action<Chunk> onChunk)
    {
        if (Done) return false;
        long visible = _next < _arrivals.Count ? _arrivals[_next++] : _all.Length;
        var buffer = _all.Slice(_consumed, visible - _consumed);
        if (!_preambleDelivered)
        {
            if (!Reader.TryReadPreamble(ref buffer, out var preamble))
            {
                if (visible == _all.Length) Reader.Finish(buffer);
                return true;
            }
            _preambleDelivered = true;
            onPreamble(preamble);
        }
        while (Reader.TryReadChunk(ref buffer, out var chunk)) onChunk(chunk);
        _consumed = _all.Length - buffer.Length;
        if (visible == _all.Length)
        {
            Reader.Finish(buffer);
            Done = true;
        }
        return true;
    }
}
