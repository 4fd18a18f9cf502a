namespace StreamKit.Wire;

/// <summary>One checked return-path chunk, as the sender sees it.</summary>
/// <param name="Type">ACK, SWITCHOVER_ACK, WINDOW, PADDING (ignore), ERROR, FINAL_ACK, or an unknown optional type (ignore it).</param>
/// <param name="Device">ACK: the device.</param>
/// <param name="Epoch">ACK: the device's epoch.</param>
/// <param name="BytesWritten">ACK: raw data bytes of (device, epoch) durably written. WINDOW: cumulative consumed forward bytes.</param>
/// <param name="Error">ERROR: the receiver's reason.</param>
/// <param name="FinalAck">FINAL_ACK: the receiver's totals and status.</param>
public readonly record struct ReturnPathMessage(ChunkType Type, ushort Device, uint Epoch, ulong BytesWritten, ReasonRecord? Error, FinalAckRecord? FinalAck);

/// <summary>
/// Checks the return path a sender reads (spec §6) after its <see cref="ChunkReader"/> (created with
/// <see cref="PreambleRole.ReturnPath"/>): the preamble belongs to the stream, each device's ACK
/// (epoch, offset) never decreases, WINDOW's consumed count never decreases, ERROR and FINAL_ACK
/// records are well-formed.
/// </summary>
public sealed class ReturnPathValidator(Guid streamId)
{
    private readonly Dictionary<ushort, (uint Epoch, ulong Offset)> _acked = [];
    private ulong _consumed;

    /// <summary>Checks the return path's preamble.</summary>
    /// <exception cref="StreamFormatException">Wrong role (<see cref="StreamErrorCode.BadPreambleField"/>) or stream id (<see cref="StreamErrorCode.BadChannel"/>).</exception>
    public void AcceptPreamble(in Preamble preamble)
    {
        if (preamble.Role != PreambleRole.ReturnPath)
            throw new StreamFormatException(StreamErrorCode.BadPreambleField, Preamble.RoleOffset, $"preamble role {preamble.Role}, expected the return path");
        if (preamble.StreamId != streamId)
            throw new StreamFormatException(StreamErrorCode.BadChannel, Preamble.StreamIdOffset, $"return path of stream {preamble.StreamId}, expected {streamId}");
    }

    /// <summary>Checks one chunk and returns what it says.</summary>
    /// <exception cref="StreamFormatException">An ACK went backwards, or a record is malformed.</exception>
    public ReturnPathMessage Accept(in Chunk chunk)
    {
        var h = chunk.Header;
        switch (h.Type)
        {
            case ChunkType.Ack:
                if (_acked.TryGetValue(h.Device, out var last))
                {
                    if (h.Epoch < last.Epoch)
                        throw new StreamFormatException(StreamErrorCode.EpochRegression, chunk.StreamOffset, $"ACK of device {h.Device} for epoch {h.Epoch} after epoch {last.Epoch}");
                    if (h.Epoch == last.Epoch && h.Offset < last.Offset)
                        throw new StreamFormatException(StreamErrorCode.OffsetMismatch, chunk.StreamOffset, $"ACK of device {h.Device} epoch {h.Epoch} went back from {last.Offset} to {h.Offset}");
                }
                _acked[h.Device] = (h.Epoch, h.Offset);
                return new ReturnPathMessage(h.Type, h.Device, h.Epoch, h.Offset, null, null);
            case ChunkType.Window:
            {
                var window = WindowRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
                if (window.ConsumedBytes < _consumed)
                    throw new StreamFormatException(StreamErrorCode.OffsetMismatch, chunk.PayloadOffset, $"WINDOW consumed bytes went back from {_consumed} to {window.ConsumedBytes}");
                _consumed = window.ConsumedBytes;
                return new ReturnPathMessage(h.Type, 0, 0, window.ConsumedBytes, null, null);
            }
            case ChunkType.Error:
                return new ReturnPathMessage(h.Type, 0, 0, 0,
                    ReasonRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset), null);
            case ChunkType.FinalAck:
                return new ReturnPathMessage(h.Type, 0, 0, 0, null,
                    FinalAckRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset));
            default:
                return new ReturnPathMessage(h.Type, 0, 0, 0, null, null); // SWITCHOVER_ACK, PADDING, or unknown optional
        }
    }

    /// <summary>The highest (epoch, bytes) acknowledged for a device, if any.</summary>
    public bool TryGetAcked(ushort device, out uint epoch, out ulong bytesWritten)
    {
        bool found = _acked.TryGetValue(device, out var last);
        (epoch, bytesWritten) = last;
        return found;
    }
}
