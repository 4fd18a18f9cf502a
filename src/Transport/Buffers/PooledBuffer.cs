using System.Buffers;
using System.Runtime.CompilerServices;

namespace StreamKit.Transport;

/// <summary>
/// One pinned block from a <see cref="PinnedBufferPool"/> (the role of Garnet's <c>PoolEntry</c>):
/// a POH array that never moves, its address for native reads, and a reference count so the
/// receive path can hand slices to a device writer and get the block back only after the write.
/// It doubles as a <see cref="ReadOnlySequenceSegment{T}"/> so a <see cref="ReceiveWindow"/> can
/// chain blocks into a <see cref="ReadOnlySequence{T}"/> without allocating segment objects;
/// the inherited <see cref="ReadOnlySequenceSegment{T}.Memory"/> is the filled part when chained.
/// </summary>
internal sealed unsafe class PooledBuffer : ReadOnlySequenceSegment<byte>
{
    private int _references;

    internal PooledBuffer(PinnedBufferPool owner, int sizeClass, int length)
    {
        Owner = owner;
        SizeClass = sizeClass;
        Array = GC.AllocateUninitializedArray<byte>(length, pinned: true);
        Pointer = (byte*)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(Array));
    }

    /// <summary>The pool this block returns to.</summary>
    internal PinnedBufferPool Owner { get; }

    /// <summary>Index of the pool's size class.</summary>
    internal int SizeClass { get; }

    /// <summary>The pinned array (array-backed, so sockets can gather it).</summary>
    public byte[] Array { get; }

    /// <summary>Address of <see cref="Array"/>[0]; valid for the pool's lifetime (the array is pinned).</summary>
    public byte* Pointer { get; }

    /// <summary>Block size in bytes (≥ what was asked for).</summary>
    public int Length => Array.Length;

    /// <summary>The whole block as a span.</summary>
    public Span<byte> Span => Array;

    /// <summary>Incremented on every rent: a lease that sees another value knows its block was recycled.</summary>
    internal int Generation { get; private set; }

    /// <summary>Live references (1 after rent).</summary>
    internal int References => Volatile.Read(ref _references);

    internal void OnRent()
    {
        Generation++;
        Volatile.Write(ref _references, 1);
    }

    /// <summary>Adds a reference (a lease or a window's hold); each needs one <see cref="Release"/>.</summary>
    internal void AddReference()
    {
        if (Interlocked.Increment(ref _references) <= 1)
            throw new InvalidOperationException("a pooled buffer was referenced after it had been returned to its pool");
    }

    /// <summary>Drops a reference; the last one returns the block to its pool.</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left > 0) return;
        if (left < 0)
            throw new InvalidOperationException("a pooled buffer was released more often than it was referenced (double return)");
        ResetSegment();
        Owner.ReturnCore(this);
    }

    /// <summary>Makes this block a sequence segment holding <paramref name="filled"/> bytes at <paramref name="runningIndex"/>.</summary>
    internal void SetSegment(int filled, long runningIndex)
    {
        Memory = Array.AsMemory(0, filled);
        RunningIndex = runningIndex;
    }

    /// <summary>Updates the filled length of a chained block.</summary>
    internal void SetFilled(int filled) => Memory = Array.AsMemory(0, filled);

    internal void SetNext(PooledBuffer? next) => Next = next;

    internal new PooledBuffer? Next
    {
        get => (PooledBuffer?)base.Next;
        private set => base.Next = value;
    }

    private void ResetSegment()
    {
        Memory = default;
        RunningIndex = 0;
        Next = null;
    }
}
