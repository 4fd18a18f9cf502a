using System.Buffers;

namespace StreamKit.Tests.Format.Support;

/// <summary>An IBufferWriter over one preallocated array that wraps around: lets allocation tests see only the writer's own allocations.</summary>
internal sealed class RecyclingBufferWriter(int capacity) : IBufferWriter<byte>
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _position;

    public long Written { get; private set; }
    public ReadOnlySpan<byte> Last(int count) => _buffer.AsSpan(_position - count, count);

    public void Advance(int count)
    {
        _position += count;
        Written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_position + Math.Max(sizeHint, 1) > _buffer.Length) _position = 0;
        return _buffer.AsMemory(_position);
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
}
