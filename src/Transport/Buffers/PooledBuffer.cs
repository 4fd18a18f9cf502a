using System.Buffers;
using System.Runtime.CompilerServices;

namespace StreamKit.Transport;

/// <summary>
/// One pinned block from a <see cref="PinnedBufferPool"/> (the role of Garnet's <c>PoolEntry</c>):
/// a POH array that never moves, its address for native reads, and (from <see cref="WindowSegment"/>)
/// a reference count so the receive path can hand slices to a device writer and get the block back
/// only after the write. As a sequence segment a <see cref="ReceiveWindow"/> chains blocks into a
/// <see cref="ReadOnlySequence{T}"/> without allocating segment objects; the inherited
/// <see cref="ReadOnlySequenceSegment{T}.Memory"/> is the filled part when chained.
/// </summary>
internal sealed unsafe class PooledBuffer : WindowSegment
{
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

    internal void OnRent() => Activate();

    /// <summary>Makes this block a sequence segment holding <paramref name="filled"/> bytes at <paramref name="runningIndex"/>.</summary>
    internal void SetSegment(int filled, long runningIndex) => Place(Array.AsMemory(0, filled), runningIndex);

    /// <summary>Updates the filled length of a chained block.</summary>
    internal void SetFilled(int filled) => Place(Array.AsMemory(0, filled), RunningIndex);

    /// <summary>The final release returns the block to its pool.</summary>
    protected override void OnReleased() => Owner.ReturnCore(this);

    protected override string Describe() => "pooled buffer";
}
