using System.Buffers;

namespace StreamKit.Transport;

/// <summary>
/// The <see cref="IBufferWriter{T}"/> a channel's <see cref="StreamKit.Wire.ChunkWriter"/> writes into:
/// whatever buffer is attached, from its start. A pump attaches the buffer it has just read device
/// data into at offset 48, so the writer's "payload memory behind the reserved header" is exactly
/// where the data already is: the header is encoded in place and the buffer is sent as it is.
/// </summary>
internal sealed class ChunkSink : IBufferWriter<byte>
{
    private byte[] _buffer = [];
    private int _written;

    /// <summary>Starts writing at the beginning of <paramref name="buffer"/> (its contents are kept).</summary>
    internal void Attach(byte[] buffer)
    {
        _buffer = buffer;
        _written = 0;
    }

    /// <summary>Bytes written since <see cref="Attach"/>.</summary>
    internal int Written => _written;

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written)) throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint > _buffer.Length - _written)
            throw new InvalidOperationException($"chunk buffer too small: {sizeHint} bytes asked, {_buffer.Length - _written} left");
    }
}
