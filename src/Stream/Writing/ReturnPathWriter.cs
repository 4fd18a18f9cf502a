using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// Writes the receiver → sender return path (spec §6): a role-1 preamble, then ACK, SWITCHOVER_ACK,
/// WINDOW, PADDING, ERROR and FINAL_ACK chunks in the same framing as the forward channels. The
/// constructor writes the preamble. Nothing is allocated per chunk (ERROR aside).
/// </summary>
public sealed class ReturnPathWriter
{
    private readonly IBufferWriter<byte> _output;
    private bool _ended;

    /// <summary>Creates the writer and writes the return-path preamble.</summary>
    /// <param name="output">Where the bytes go (the reverse direction of channel 0, or its own connection).</param>
    /// <param name="streamId">The forward stream's id.</param>
    /// <param name="capabilities">The capabilities the receiver accepted (echoed from the forward preamble).</param>
    /// <param name="maxPayload">The receiver's local payload limit (informational).</param>
    /// <param name="maxDevices">The receiver's local device limit (informational).</param>
    /// <param name="receiveWindow">Forward chunk bytes the receiver can hold (flow control, §6.5); 0 = no window.</param>
    public ReturnPathWriter(IBufferWriter<byte> output, Guid streamId, StreamCapabilities capabilities,
        uint maxPayload = WireLimits.DefaultMaxPayload, uint maxDevices = WireLimits.DefaultMaxDevices, ulong receiveWindow = 0)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (maxPayload < WireLimits.MinMaxPayload) throw new ArgumentOutOfRangeException(nameof(maxPayload));
        _output = output;
        Preamble = new Preamble(streamId, 0, 1, capabilities, maxPayload, maxDevices, PreambleRole.ReturnPath, ReceiveWindow: receiveWindow);
        Preamble.Encode(_output.GetSpan(Preamble.Size));
        _output.Advance(Preamble.Size);
    }

    /// <summary>The preamble written.</summary>
    public Preamble Preamble { get; }

    /// <summary>True once ERROR or FINAL_ACK has been written.</summary>
    public bool IsEnded => _ended;

    /// <summary>
    /// ACK: the first <paramref name="bytesWritten"/> raw data bytes of (device, epoch) are durably
    /// written into the destination device.
    /// </summary>
    public void WriteAck(ushort device, uint epoch, ulong bytesWritten)
    {
        if (device == 0) throw new ArgumentOutOfRangeException(nameof(device), "device ids start at 1");
        Write(new ChunkHeader(ChunkType.Ack, ChunkFlags.None, device, epoch, 0, bytesWritten, 0, 0, 0), []);
    }

    /// <summary>SWITCHOVER_ACK: the initial pre-copy data of every pre-copy device is written; the source may stop the VM.</summary>
    public void WriteSwitchoverAck() =>
        Write(new ChunkHeader(ChunkType.SwitchoverAck, ChunkFlags.None, 0, 0, 0, 0, 0, 0, 0), []);

    /// <summary>WINDOW (optional type): the receiver has consumed <paramref name="consumedBytes"/> forward bytes in all (cumulative).</summary>
    public void WriteWindow(ulong consumedBytes)
    {
        Span<byte> payload = stackalloc byte[WindowRecord.Size];
        new WindowRecord(consumedBytes).Encode(payload);
        Write(new ChunkHeader(ChunkType.Window, ChunkFlags.Optional, 0, 0, 0, 0, WindowRecord.Size, WindowRecord.Size, 0), payload);
    }

    /// <summary>PADDING with no payload: a keepalive so the sender's idle timeout does not fire while nothing else is due.</summary>
    public void WritePadding() =>
        Write(new ChunkHeader(ChunkType.Padding, ChunkFlags.None, 0, 0, 0, 0, 0, 0, 0), []);

    /// <summary>ERROR: the receiver failed and has reset its devices. Ends the return path.</summary>
    public void WriteError(StreamErrorCode reason, string text)
    {
        var record = ReasonRecord.Create(reason, text);
        Span<byte> payload = stackalloc byte[WireLimits.MaxRecordLength];
        int n = record.Encode(payload);
        Write(new ChunkHeader(ChunkType.Error, ChunkFlags.None, 0, 0, 0, 0, (uint)n, (uint)n, 0), payload[..n]);
        _ended = true;
    }

    /// <summary>FINAL_ACK: every device verified and committed (status 0), or the failure code. Ends the return path.</summary>
    public void WriteFinalAck(FinalAckRecord record)
    {
        Span<byte> payload = stackalloc byte[FinalAckRecord.Size];
        record.Encode(payload);
        Write(new ChunkHeader(ChunkType.FinalAck, ChunkFlags.None, 0, 0, 0, 0, FinalAckRecord.Size, FinalAckRecord.Size, 0), payload);
        _ended = true;
    }

    private void Write(ChunkHeader header, ReadOnlySpan<byte> payload)
    {
        if (_ended) throw new InvalidOperationException("the return path has ended (ERROR or FINAL_ACK written)");
        int total = ChunkHeader.Size + payload.Length;
        Span<byte> span = _output.GetSpan(total);
        payload.CopyTo(span[ChunkHeader.Size..]);
        (header with { PayloadCrc = payload.IsEmpty ? 0 : Crc32C.Compute(payload) }).Encode(span);
        _output.Advance(total);
    }
}
