namespace StreamKit.Transport;

/// <summary>
/// The lending side of a transport whose receive buffers are few and flow-controlled (RDMA: one
/// receive buffer per credit granted to the sender). Hands out one reusable <see cref="LentSegment"/>
/// per buffer slot and keeps the lending budget that makes lending deadlock-free:
/// <para>
/// A lent buffer comes back only when every holder (the window while the chunk is incomplete, leases
/// of chunks queued for the device) has released it; until then the sender has one credit less. If
/// lent buffers could take every credit, a chunk spanning more messages than there are credits would
/// never complete. So at most <see cref="Limit"/> = credits − max(1, credits / 4) buffers are lent at a
/// time; beyond that <see cref="CanLend"/> is false and the window receives by copying into its pooled
/// blocks, which releases each buffer at once. The remaining credits therefore always flow, every chunk
/// completes, and the window's hold on the lent buffers ends with it. With 1 credit nothing is lent.
/// </para>
/// </summary>
internal sealed class SegmentLender
{
    private readonly LentSegment?[] _segments;
    private int _outstanding;

    /// <param name="slots">Buffer slots (segment objects are made per slot, on first use).</param>
    /// <param name="credits">Receive buffers granted to the sender for data (the flow-control window).</param>
    internal SegmentLender(int slots, int credits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(credits, 1);
        _segments = new LentSegment?[slots];
        Limit = LimitFor(credits);
    }

    /// <summary>Most buffers lent at a time.</summary>
    internal int Limit { get; }

    /// <summary>Buffers lent and not yet released by every holder.</summary>
    internal int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>True while one more buffer may be lent without risking the sender's last credits.</summary>
    internal bool CanLend => Volatile.Read(ref _outstanding) < Limit;

    /// <summary>The lending budget for <paramref name="credits"/> receive buffers.</summary>
    internal static int LimitFor(int credits) => credits - Math.Max(1, credits / 4);

    /// <summary>Lends slot <paramref name="slot"/>'s <paramref name="bytes"/>; the caller owns the returned segment's one reference.</summary>
    internal LentSegment Lend(int slot, ReadOnlyMemory<byte> bytes, IDisposable loan)
    {
        var segment = _segments[slot] ??= new LentSegment(this);
        if (segment.References != 0) throw new InvalidOperationException($"receive buffer slot {slot} was lent again before its previous loan ended");
        Interlocked.Increment(ref _outstanding);
        segment.Lend(bytes, loan);
        return segment;
    }

    internal void OnReturned() => Interlocked.Decrement(ref _outstanding);
}
