using System.Buffers;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// What a sender does with its return path: a <see cref="ChunkReader"/> expecting role 1 feeding a
/// <see cref="ReturnPathValidator"/> for <see cref="MalformedStreamGenerator.ReturnPathStreamId"/>, fed
/// in one piece and in pieces derived from the input's CRC.
/// Invariants: only <see cref="StreamFormatException"/> escapes, with a spec code and an offset inside
/// the input; both feeds agree; every accepted ACK keeps (epoch, offset) non-decreasing per device by a
/// reference model, only return-path types are delivered, nothing after ERROR / FINAL_ACK, and ERROR
/// and FINAL_ACK records are what their payload bytes say; allocation stays within a constant.
/// </summary>
internal sealed class ReturnPathFuzzTarget : IFuzzTarget
{
    public static string Name => "return-path";

    private const long AllocationBound = ChunkReaderFuzzTarget.LocalMaxPayload + 128 * 1024;
    private static readonly ChunkReaderOptions Options = new() { MaxPayload = ChunkReaderFuzzTarget.LocalMaxPayload, ExpectedRole = PreambleRole.ReturnPath };

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        byte[] data = input.ToArray();
        var whole = Read(data, 0, 0);
        uint crc = Crc32C.Compute(input);
        var split = Read(data, 1 + (int)(crc % (FuzzInput.SegmentModes - 1)), crc);
        if (whole != split)
            throw new FuzzInvariantException(Name, $"the result depends on segmentation: in one piece {whole}, in pieces {split}");
    }

    private static FuzzOutcome Read(byte[] data, int mode, ulong seed)
    {
        var pump = new ChannelPump(data, mode, seed);
        var reader = new ChunkReader(Options);
        var validator = new ReturnPathValidator(MalformedStreamGenerator.ReturnPathStreamId);
        var acked = new Dictionary<ushort, (uint Epoch, ulong Offset)>();
        long messages = 0;
        uint digest = 0;
        bool ended = false;
        var meter = AllocationMeter.Start();
        try
        {
            while (true)
            {
                var buffer = pump.Arrive(out bool last);
                if (!reader.HasPreamble && reader.TryReadPreamble(ref buffer, out var preamble)) validator.AcceptPreamble(preamble);
                if (reader.HasPreamble)
                {
                    while (reader.TryReadChunk(ref buffer, out var chunk))
                    {
                        var message = validator.Accept(chunk);
                        meter.Pause();
                        if (ended) throw new FuzzInvariantException(Name, $"{chunk} delivered after the return path ended");
                        Check(chunk, message, acked);
                        ended = message.Type is ChunkType.Error or ChunkType.FinalAck;
                        digest = Crc32C.Append(digest, data.AsSpan((int)chunk.StreamOffset, ChunkHeader.Size));
                        messages++;
                        meter.Resume();
                    }
                }
                pump.Consumed(buffer.Start);
                if (!last) continue;
                reader.Finish(buffer);
                break;
            }
        }
        catch (StreamFormatException e)
        {
            meter.Check(Name, AllocationBound, "reading a return path");
            FuzzChecks.TypedError(Name, e, data.Length);
            return FuzzOutcome.Failed(e, messages, digest);
        }
        meter.Check(Name, AllocationBound, "reading a return path");
        if (!ended) throw new FuzzInvariantException(Name, "a return path without ERROR or FINAL_ACK passed Finish");
        return new FuzzOutcome(true, StreamErrorCode.None, reader.Position, messages, digest);
    }

    private static void Check(in Chunk chunk, ReturnPathMessage message, Dictionary<ushort, (uint Epoch, ulong Offset)> acked)
    {
        var h = chunk.Header;
        if (message.Type != h.Type) throw FuzzChecks.Mismatch(Name, "message type", h.Type, message.Type);
        if (chunk.IsKnownType && !ChunkTypeRules.AllowedOn(h.Type, PreambleRole.ReturnPath))
            throw new FuzzInvariantException(Name, $"forward chunk {chunk} accepted on the return path");
        switch (h.Type)
        {
            case ChunkType.Ack:
                if (h.Device == 0) throw new FuzzInvariantException(Name, $"ACK for device 0 accepted: {chunk}");
                if (acked.TryGetValue(h.Device, out var last) && (h.Epoch < last.Epoch || (h.Epoch == last.Epoch && h.Offset < last.Offset)))
                    throw new FuzzInvariantException(Name, $"ACK of device {h.Device} went back from ({last.Epoch}, {last.Offset}) to ({h.Epoch}, {h.Offset}) and was accepted");
                acked[h.Device] = (h.Epoch, h.Offset);
                if (message.Device != h.Device || message.Epoch != h.Epoch || message.BytesWritten != h.Offset)
                    throw FuzzChecks.Mismatch(Name, "ACK message", (h.Device, h.Epoch, h.Offset), (message.Device, message.Epoch, message.BytesWritten));
                break;
            case ChunkType.Error:
            {
                var payload = chunk.Payload.ToArray();
                if (message.Error is not { } error || payload.Length < ReasonRecord.HeaderSize
                    || (uint)error.Reason != BitConverter.ToUInt32(payload, 0) || error.Reason == StreamErrorCode.None
                    || System.Text.Encoding.UTF8.GetByteCount(error.Text) != payload.Length - ReasonRecord.HeaderSize)
                    throw new FuzzInvariantException(Name, $"ERROR message {message} does not match its payload");
                break;
            }
            case ChunkType.FinalAck:
            {
                var payload = chunk.Payload.ToArray();
                if (message.FinalAck is not { } final || payload.Length != FinalAckRecord.Size
                    || (uint)final.Status != BitConverter.ToUInt32(payload, 0) || final.BytesWritten != BitConverter.ToUInt64(payload, 8))
                    throw new FuzzInvariantException(Name, $"FINAL_ACK message {message} does not match its payload");
                break;
            }
        }
    }

    public static byte[] Generate(ulong seed, long iteration) => Generators.Forward.GenerateReturnPath(seed, iteration).Channels[0];
}
