using System.Buffers;

namespace StreamKit.Transport;

/// <summary>
/// A reference-counted piece of receive memory that a <see cref="ReceiveWindow"/> chains into its
/// <see cref="ReadOnlySequence{T}"/> and a <see cref="BufferLease"/> holds past the window: either a
/// <see cref="PooledBuffer"/> the window received into, or a <see cref="LentSegment"/>, a transport's
/// own receive buffer lent in place (an RDMA receive buffer). Both follow one contract: the holder of
/// the first reference (after rent or lend) and every <see cref="AddReference"/> release once; the
/// final <see cref="Release"/> unlinks the segment and hands it back to its owner
/// (<see cref="OnReleased"/>), after which its memory must not be read.
/// </summary>
internal abstract class WindowSegment : ReadOnlySequenceSegment<byte>
{
    private int _references;

    /// <summary>Incremented on every rent or lend: a lease that sees another value knows the segment was recycled.</summary>
    internal int Generation { get; private set; }

    /// <summary>Live references (1 after rent or lend).</summary>
    internal int References => Volatile.Read(ref _references);

    /// <summary>The next segment of the window's chain.</summary>
    internal new WindowSegment? Next
    {
        get => (WindowSegment?)base.Next;
        private set => base.Next = value;
    }

    /// <summary>Starts a new life: one reference, a new generation.</summary>
    protected void Activate()
    {
        Generation++;
        Volatile.Write(ref _references, 1);
    }

    /// <summary>Adds a reference (a lease or a window's hold); each needs one <see cref="Release"/>.</summary>
    internal void AddReference()
    {
        if (Interlocked.Increment(ref _references) <= 1)
            throw new InvalidOperationException($"a {Describe()} was referenced after it had been returned");
    }

    /// <summary>Drops a reference; the last one unlinks the segment and returns it to its owner.</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left > 0) return;
        if (left < 0)
            throw new InvalidOperationException($"a {Describe()} was released more often than it was referenced (double return)");
        Memory = default;
        RunningIndex = 0;
        Next = null;
        OnReleased();
    }

    internal void SetNext(WindowSegment? next) => Next = next;

    /// <summary>Sets the bytes this segment shows in a sequence and where they sit in the window's stream.</summary>
    protected void Place(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Moves the segment to <paramref name="runningIndex"/> in the window's stream, keeping its bytes.</summary>
    internal void SetRunningIndex(long runningIndex) => RunningIndex = runningIndex;

    /// <summary>Called once by the final <see cref="Release"/>, after the segment was unlinked.</summary>
    protected abstract void OnReleased();

    /// <summary>What the segment is, for misuse messages.</summary>
    protected abstract string Describe();
}
