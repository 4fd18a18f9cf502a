using System.Globalization;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Groups a listener's accepted channels into streams by the preamble's stream id. A stream is
/// complete when every index 0..N-1 has arrived exactly once with the same count N; then it goes
/// to <c>onComplete</c>. Checks, each refusing just the offending connection (the caller sends a
/// <see cref="RejectionNotice"/> and closes it):
/// <list type="bullet">
/// <item>role must be forward; N must not exceed the listener's channel limit (checked before any allocation sized by N);</item>
/// <item>an index already present is a duplicate; a count that differs from the stream's first channel is inconsistent;</item>
/// <item>a channel of a stream that completed (or timed out) recently is a stray;</item>
/// <item>a new stream while <see cref="TransportOptions.MaxPendingStreams"/> others are assembling is refused.</item>
/// </list>
/// A stream not complete within <see cref="TransportOptions.ChannelGroupTimeout"/> of its first channel
/// fails as a whole: its channels go to <c>onTimeout</c> with a <see cref="TransportErrorKind.Timeout"/> error naming the missing indexes.
/// </summary>
internal sealed class ChannelGroupAssembler : IDisposable
{
    private const int RecentlyCompletedKept = 64;

    private readonly object _gate = new();
    private readonly TransportOptions _options;
    private readonly Action<ChannelGroup> _onComplete;
    private readonly Action<TransportException, IReadOnlyList<(TransportConnection Connection, Preamble Preamble)>> _onTimeout;
    private readonly Dictionary<Guid, PendingStream> _pending = new();
    private readonly Queue<Guid> _recentOrder = new();
    private readonly HashSet<Guid> _recent = new();
    private bool _disposed;

    public ChannelGroupAssembler(TransportOptions options, Action<ChannelGroup> onComplete,
        Action<TransportException, IReadOnlyList<(TransportConnection Connection, Preamble Preamble)>> onTimeout)
    {
        _options = options;
        _onComplete = onComplete;
        _onTimeout = onTimeout;
    }

    /// <summary>Streams being assembled now.</summary>
    public int PendingStreams
    {
        get { lock (_gate) return _pending.Count; }
    }

    /// <summary>
    /// Adds a channel. Returns null when it was taken (the assembler now owns the connection), or the
    /// reason it was refused (the caller still owns it).
    /// </summary>
    public TransportException? Offer(TransportConnection connection, Preamble preamble)
    {
        string peer = connection.RemoteEndPoint;
        string stream = preamble.StreamId.ToString();
        if (preamble.Role != PreambleRole.Forward)
            return Refuse($"channel {preamble.ChannelIndex} of stream {stream} opened with a return-path preamble; a listener expects forward channels", peer);
        if (preamble.ChannelCount > _options.MaxChannels)
            return Refuse($"stream {stream} announces {preamble.ChannelCount} channels; this listener accepts at most {_options.MaxChannels}", peer);
        ChannelGroup? completed = null;
        lock (_gate)
        {
            if (_disposed) return new TransportException(TransportErrorKind.Aborted, "the listener is shutting down", peer);
            if (_recent.Contains(preamble.StreamId))
                return Refuse($"stray channel {preamble.ChannelIndex}: stream {stream} was already completed or timed out", peer);
            if (!_pending.TryGetValue(preamble.StreamId, out var pending))
            {
                if (_pending.Count >= _options.MaxPendingStreams)
                {
                    var other = _pending.Values.First();
                    return Refuse($"channel {preamble.ChannelIndex} of stream {stream} refused: this listener is assembling stream {other.StreamId} " +
                        $"({other.Arrived}/{other.Count} channels) and takes {_options.MaxPendingStreams} stream(s) at a time", peer);
                }
                pending = new PendingStream(this, preamble.StreamId, preamble.ChannelCount);
                _pending.Add(preamble.StreamId, pending);
                if (preamble.ChannelCount > 1 && _options.ChannelGroupTimeout != Timeout.InfiniteTimeSpan)
                    pending.Deadline = new Timer(static s => ((PendingStream)s!).Owner.Expire((PendingStream)s!),
                        pending, _options.ChannelGroupTimeout, Timeout.InfiniteTimeSpan);
            }
            else if (preamble.ChannelCount != pending.Count)
            {
                return Refuse($"channel {preamble.ChannelIndex} of stream {stream} announces {preamble.ChannelCount} channels, " +
                    $"but the stream's first channel announced {pending.Count}", peer);
            }
            else if (pending.Slots[preamble.ChannelIndex] is { } existing)
            {
                return Refuse($"duplicate channel {preamble.ChannelIndex} of stream {stream}: already connected from {existing.RemoteEndPoint}", peer);
            }
            pending.Slots[preamble.ChannelIndex] = connection;
            pending.Preambles[preamble.ChannelIndex] = preamble;
            pending.Arrived++;
            if (pending.Arrived == pending.Count)
            {
                _pending.Remove(pending.StreamId);
                pending.Deadline?.Dispose();
                Remember(pending.StreamId);
                completed = new ChannelGroup(pending.StreamId, Array.ConvertAll(pending.Slots, c => c!), pending.Preambles);
            }
        }
        if (completed is not null) _onComplete(completed);
        return null;
    }

    private static TransportException Refuse(string why, string peer) => new(TransportErrorKind.HandshakeRejected, why, peer);

    private void Remember(Guid streamId)
    {
        if (_recent.Add(streamId)) _recentOrder.Enqueue(streamId);
        while (_recentOrder.Count > RecentlyCompletedKept) _recent.Remove(_recentOrder.Dequeue());
    }

    private void Expire(PendingStream pending)
    {
        List<(TransportConnection, Preamble)> arrived;
        lock (_gate)
        {
            if (!_pending.Remove(pending.StreamId, out var current) || current != pending) return;
            pending.Deadline?.Dispose();
            Remember(pending.StreamId); // a late channel of the failed stream is a stray, not the start of a new one
            arrived = Arrived(pending);
        }
        var missing = Enumerable.Range(0, pending.Count).Where(i => pending.Slots[i] is null).ToList();
        string missingText = missing.Count <= 16 ? string.Join(", ", missing) : $"{string.Join(", ", missing.Take(16))}, ... ({missing.Count} in all)";
        var error = new TransportException(TransportErrorKind.Timeout, string.Create(CultureInfo.InvariantCulture,
            $"stream {pending.StreamId}: channel(s) {missingText} of {pending.Count} did not connect within {_options.ChannelGroupTimeout.TotalSeconds:0.###} s of the first ({pending.Arrived} arrived)"));
        _onTimeout(error, arrived);
    }

    private static List<(TransportConnection, Preamble)> Arrived(PendingStream pending)
    {
        var list = new List<(TransportConnection, Preamble)>();
        for (int i = 0; i < pending.Count; i++)
            if (pending.Slots[i] is { } c) list.Add((c, pending.Preambles[i]));
        return list;
    }

    /// <summary>Stops all deadlines and returns the channels of incomplete streams (the caller closes them).</summary>
    public List<(TransportConnection Connection, Preamble Preamble)> Drain()
    {
        lock (_gate)
        {
            _disposed = true;
            var all = new List<(TransportConnection, Preamble)>();
            foreach (var pending in _pending.Values)
            {
                pending.Deadline?.Dispose();
                all.AddRange(Arrived(pending));
            }
            _pending.Clear();
            return all;
        }
    }

    public void Dispose() => Drain();

    private sealed class PendingStream(ChannelGroupAssembler owner, Guid streamId, int count)
    {
        public ChannelGroupAssembler Owner { get; } = owner;
        public Guid StreamId { get; } = streamId;
        public int Count { get; } = count;
        public TransportConnection?[] Slots { get; } = new TransportConnection?[count];
        public Preamble[] Preambles { get; } = new Preamble[count];
        public int Arrived { get; set; }
        public Timer? Deadline { get; set; }
    }
}
