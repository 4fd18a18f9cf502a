using System.Buffers;

namespace StreamKit.Transport;

/// <summary>
/// A hold on the segments (pooled blocks, lent transport buffers) under a slice of a
/// <see cref="ReceiveWindow"/>: the slice stays valid
/// after the window advances past it, until <see cref="Release"/>. The receive path leases a chunk's
/// payload, advances, hands payload + lease to the device writer, and the writer releases after
/// <c>write()</c> returns. Release exactly once (like an <see cref="ArrayPool{T}"/> rental); a release
/// after the blocks were recycled is detected and throws.
/// </summary>
internal readonly struct BufferLease
{
    private readonly WindowSegment? _first;
    private readonly int _count;
    private readonly int _generation;

    private BufferLease(WindowSegment first, int count)
    {
        _first = first;
        _count = count;
        _generation = first.Generation;
    }

    /// <summary>True if this lease holds blocks (an empty slice gives an empty lease).</summary>
    public bool IsEmpty => _first is null;

    /// <summary>Number of blocks held.</summary>
    public int BlockCount => _count;

    /// <summary>
    /// Takes a reference on every block spanned by <paramref name="slice"/>, which must be a slice of a
    /// sequence built from <see cref="WindowSegment"/>s (what <see cref="ReceiveWindow"/> returns).
    /// </summary>
    internal static BufferLease Create(in ReadOnlySequence<byte> slice)
    {
        if (slice.IsEmpty) return default;
        if (slice.Start.GetObject() is not WindowSegment first || slice.End.GetObject() is not WindowSegment last)
            throw new ArgumentException("the sequence is not made of receive window segments", nameof(slice));
        int count = 1;
        first.AddReference();
        for (var block = first; block != last; count++)
        {
            block = block.Next ?? throw new ArgumentException("the sequence's end is not reachable from its start", nameof(slice));
            block.AddReference();
        }
        return new BufferLease(first, count);
    }

    /// <summary>Drops the hold; blocks no longer referenced return to their pool, lent buffers to their transport.</summary>
    /// <exception cref="InvalidOperationException">The lease was already released and its blocks recycled.</exception>
    public void Release()
    {
        var block = _first;
        if (block is null) return;
        if (block.Generation != _generation || block.References <= 0)
            throw new InvalidOperationException("buffer lease released twice (its blocks were already recycled)");
        for (int i = 0; i < _count; i++)
        {
            // Read Next before releasing: the final release resets it. The lease's own references keep
            // every later block of the run alive (and its Next intact) until the walk reaches it.
            var next = block!.Next;
            block.Release();
            block = next;
        }
    }
}
