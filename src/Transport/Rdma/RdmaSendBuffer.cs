using StreamKit.Wire;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// A registered send buffer lent by <see cref="RdmaChannel.GetSendBufferAsync"/>. Fill
/// <see cref="Memory"/> in place — for device state: the 48-byte chunk header at [0..48) and
/// <c>read(data_fd)</c> straight into [48..) — then <see cref="Send"/> the used prefix. The
/// adapter sends from this memory, so the device read is the only CPU copy. Exactly one of
/// <see cref="Send"/> or <see cref="Return"/> ends the lease.
/// </summary>
internal sealed class RdmaSendBuffer
{
    private readonly RdmaChannel _channel;

    internal RdmaSendBuffer(RdmaChannel channel, int slot, Memory<byte> memory)
    {
        _channel = channel;
        Slot = slot;
        Memory = memory;
    }

    /// <summary>The whole buffer; its length is the channel's largest message.</summary>
    public Memory<byte> Memory { get; }

    /// <summary>The whole buffer as a span.</summary>
    public Span<byte> Span => Memory.Span;

    /// <summary>Where the chunk header goes: the first <see cref="ChunkHeader.Size"/> bytes.</summary>
    public Span<byte> HeaderSpan => Memory.Span[..ChunkHeader.Size];

    /// <summary>Where the device reads the chunk payload into: everything after the header.</summary>
    public Memory<byte> Payload => Memory[ChunkHeader.Size..];

    /// <summary>Sends the header plus <paramref name="payloadLength"/> payload bytes as one message.</summary>
    public void SendChunk(int payloadLength) => Send(ChunkHeader.Size + payloadLength);

    internal int Slot { get; }
    internal SendBufferState State { get; set; }
    internal int Length { get; set; }

    /// <summary>Sends the first <paramref name="length"/> bytes as one message (now, or when a credit arrives) and ends the lease.</summary>
    /// <exception cref="RdmaException">The channel has failed or closed.</exception>
    public void Send(int length) => _channel.Send(this, length);

    /// <summary>Gives the buffer back unsent.</summary>
    public void Return() => _channel.ReturnUnsent(this);
}

internal enum SendBufferState : byte
{
    Free,
    Leased,
    Queued,
    InFlight,
}
