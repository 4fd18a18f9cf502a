using System.Buffers.Binary;
using System.Text;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Tells a refused (but well-formed) StreamKit peer why, in the format it already understands: a
/// return-path preamble echoing its stream id and channel, then one ERROR chunk
/// (<c>0 u32 reason | 4 u32 text_len | 8 UTF-8 text</c>, stream-scoped header). Best effort with a
/// short deadline: the listener closes the connection afterwards whatever happens.
/// </summary>
internal static class RejectionNotice
{
    private const int MaxTextBytes = 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    /// <summary>Sends the notice if the connection can send; never throws.</summary>
    public static async Task TrySendAsync(TransportConnection connection, Preamble peer, StreamErrorCode code, string text)
    {
        if (!connection.CanSend || connection.AbortReason is not null) return;
        try
        {
            using var deadline = new CancellationTokenSource(Deadline);
            var bytes = Encode(peer, code, text);
            await connection.SendAsync(bytes, deadline.Token).ConfigureAwait(false);
            await connection.CompleteSendAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TransportException or OperationCanceledException or InvalidOperationException)
        {
            // The peer is gone or not reading: nothing more to tell it.
        }
    }

    /// <summary>Return-path preamble + ERROR chunk.</summary>
    internal static byte[] Encode(Preamble peer, StreamErrorCode code, string text)
    {
        int textLength = Math.Min(Encoding.UTF8.GetByteCount(text), MaxTextBytes);
        var textBytes = Encoding.UTF8.GetBytes(text);
        // Cut at a character boundary so the text stays valid UTF-8.
        while (textLength < textBytes.Length && textLength > 0 && (textBytes[textLength] & 0xC0) == 0x80) textLength--;
        int payloadLength = 8 + textLength;
        var bytes = new byte[Preamble.Size + ChunkHeader.Size + payloadLength];
        // max_payload must be at least 4096 or a sender's reader rejects the preamble (spec §2.3 step 10)
        // and never sees the ERROR; 4096 holds any ERROR record.
        new Preamble(peer.StreamId, peer.ChannelIndex, peer.ChannelCount, StreamCapabilities.None,
            MaxPayload: WireLimits.MinMaxPayload, MaxDevices: 0, PreambleRole.ReturnPath).Encode(bytes);
        var payload = bytes.AsSpan(Preamble.Size + ChunkHeader.Size);
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)code);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[4..], (uint)textLength);
        textBytes.AsSpan(0, textLength).CopyTo(payload[8..]);
        new ChunkHeader(ChunkType.Error, ChunkFlags.None, Device: 0, Epoch: 0, Sequence: 0, Offset: 0,
            WireLength: (uint)payloadLength, RawLength: (uint)payloadLength, PayloadCrc: Crc32C.Compute(payload))
            .Encode(bytes.AsSpan(Preamble.Size, ChunkHeader.Size));
        return bytes;
    }
}
