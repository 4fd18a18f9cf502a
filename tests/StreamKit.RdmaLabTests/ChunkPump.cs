using System.IO.Pipes;
using StreamKit.Transport.Rdma;
using StreamKit.Wire;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// The zero-copy data path as a session layer would drive it, with pipes standing in for the
/// devices' data_fd: the sender read()s from the source pipe straight into a registered send
/// buffer behind a 48-byte chunk header and posts it; the receiver checks header and payload
/// CRC in the registered receive buffer and write()s the payload from there into the
/// destination pipe. One chunk per message.
/// </summary>
internal static class ChunkPump
{
    /// <summary>Moves <paramref name="total"/> pattern bytes from a producer thread, through <paramref name="sender"/> and <paramref name="receiver"/>, to a verifying consumer.</summary>
    /// <returns>Bytes verified at the destination.</returns>
    internal static async Task<long> TransferAsync(RdmaChannel sender, RdmaChannel receiver, long total, ulong seed, CancellationToken ct)
    {
        var pattern = new Pattern(seed);
        using var sourceOut = new AnonymousPipeServerStream(PipeDirection.Out);
        using var sourceIn = new AnonymousPipeClientStream(PipeDirection.In, sourceOut.ClientSafePipeHandle);
        using var sinkIn = new AnonymousPipeServerStream(PipeDirection.In);
        using var sinkOut = new AnonymousPipeClientStream(PipeDirection.Out, sinkIn.ClientSafePipeHandle);

        var produce = Task.Factory.StartNew(() => pattern.Produce(sourceOut, total, (int)seed), TaskCreationOptions.LongRunning);
        var consume = Task.Factory.StartNew(() => pattern.Verify(sinkIn), TaskCreationOptions.LongRunning);
        var send = Task.Factory.StartNew(() => SendAsync(sender, sourceIn, total, new Random((int)seed + 1), ct), TaskCreationOptions.LongRunning).Unwrap();
        var receive = Task.Factory.StartNew(() => ReceiveAsync(receiver, sinkOut, ct), TaskCreationOptions.LongRunning).Unwrap();
        await Task.WhenAll(produce, send, receive).ConfigureAwait(false);
        return await consume.ConfigureAwait(false);
    }

    /// <summary>Reads the source "device" into registered buffers, one DATA chunk per message, then ends the stream.</summary>
    internal static async Task SendAsync(RdmaChannel channel, Stream device, long total, Random sizes, CancellationToken ct, ushort deviceId = 1)
    {
        int maxPayload = channel.MaxChunkPayload;
        long offset = 0;
        ulong sequence = 0;
        while (offset < total)
        {
            RdmaSendBuffer buffer = await channel.GetSendBufferAsync(ct).ConfigureAwait(false);
            int want = (int)Math.Min(total - offset, sizes.Next(1, maxPayload + 1));
            // The only CPU copy on the sender: read() from the device fd into registered memory.
            int n = device.Read(buffer.Payload.Span[..want]);
            if (n == 0)
            {
                buffer.Return();
                throw new EndOfStreamException($"source ended at {offset} of {total} bytes");
            }
            var payload = buffer.Payload.Span[..n];
            new ChunkHeader(ChunkType.Data, 0, deviceId, 0, sequence++, (ulong)offset, (uint)n, (uint)n, Crc32C.Compute(payload))
                .Encode(buffer.HeaderSpan);
            buffer.SendChunk(n);
            offset += n;
        }
        await channel.CompleteAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Verifies each chunk in place and writes its payload into the destination "device"; returns at the peer's end.</summary>
    internal static async Task<long> ReceiveAsync(RdmaChannel channel, Stream device, CancellationToken ct, bool closeDevice = true)
    {
        long offset = 0;
        ulong sequence = 0;
        long streamOffset = 0;
        try
        {
            while (await channel.ReceiveAsync(ct).ConfigureAwait(false) is { } message)
            {
                using (message)
                {
                    var bytes = message.Memory;
                    int at = 0;
                    while (at < bytes.Length)
                    {
                        var header = ChunkHeader.Decode(bytes.Span[at..], streamOffset + at);
                        if (header.WireLength > bytes.Length - at - ChunkHeader.Size)
                            throw new StreamFormatException(StreamErrorCode.TruncatedPayload, streamOffset + at,
                                $"chunk of {header.WireLength} bytes does not fit its {bytes.Length}-byte RDMA message");
                        if (header.Sequence != sequence || header.Offset != (ulong)offset)
                            throw new StreamFormatException(StreamErrorCode.SequenceGap, streamOffset + at,
                                $"chunk seq {header.Sequence} offset {header.Offset}, expected {sequence} / {offset}");
                        var payload = bytes.Slice(at + ChunkHeader.Size, (int)header.WireLength);
                        if (Crc32C.Compute(payload.Span) != header.PayloadCrc)
                            throw new StreamFormatException(StreamErrorCode.PayloadChecksumMismatch, streamOffset + at + ChunkHeader.Size, "payload CRC32C mismatch");
                        // Verified, so it may go to the device: write() straight from the registered buffer.
                        device.Write(payload.Span);
                        offset += header.WireLength;
                        sequence++;
                        at += ChunkHeader.Size + (int)header.WireLength;
                    }
                    streamOffset += bytes.Length;
                }
            }
            await channel.CompleteAsync(ct).ConfigureAwait(false);
            return offset;
        }
        finally
        {
            if (closeDevice) device.Dispose();
        }
    }
}
