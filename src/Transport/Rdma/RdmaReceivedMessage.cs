namespace StreamKit.Transport.Rdma;

/// <summary>
/// One received message, in place in the registered receive buffer the adapter wrote it to.
/// Parse and verify it there and write payloads from <see cref="Memory"/> straight into the
/// device; then <see cref="Dispose"/> it, which re-posts the buffer and returns its credit to
/// the sender. Holding it holds back the sender: that is the flow control. The memory must not
/// be used after disposal (the buffer will receive a later message).
/// </summary>
internal sealed class RdmaReceivedMessage : IDisposable
{
    private readonly RdmaChannel _channel;
    private readonly Memory<byte> _buffer;

    internal RdmaReceivedMessage(RdmaChannel channel, int slot, Memory<byte> buffer)
    {
        _channel = channel;
        Slot = slot;
        _buffer = buffer;
    }

    /// <summary>The message bytes.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer[..Length];

    /// <summary>The message bytes as a span.</summary>
    public ReadOnlySpan<byte> Span => _buffer.Span[..Length];

    /// <summary>Message length in bytes (≥ 1).</summary>
    public int Length { get; internal set; }

    internal int Slot { get; }
    internal bool Leased { get; set; }

    /// <summary>Returns the buffer to the adapter (idempotent).</summary>
    public void Dispose() => _channel.Release(this);
}
