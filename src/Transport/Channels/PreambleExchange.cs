using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Writes and reads the preamble that opens every channel. The read is exact and bounded: 16 bytes
/// to learn the length (≤ <see cref="Preamble.MaxLength"/>), then the rest, never a byte more, so
/// the first chunk stays in the connection for the session. Deadlines come from the caller's token.
/// </summary>
internal static class PreambleExchange
{
    /// <summary>Bytes 0..15 (magic, major, minor, length): enough for <see cref="Preamble.PeekLength"/>.</summary>
    private const int LengthPrefix = 16;

    /// <summary>Sends a v1.0 preamble.</summary>
    public static ValueTask WriteAsync(TransportConnection connection, Preamble preamble, CancellationToken cancellationToken)
    {
        var bytes = new byte[Preamble.Size];
        preamble.Encode(bytes);
        return connection.SendAsync(bytes, cancellationToken);
    }

    /// <summary>Reads and checks one preamble.</summary>
    /// <remarks>
    /// On a TCP or Unix socket the read runs on a short-lived thread of its own, with blocking receives. An
    /// async receive that has to wait registers the socket with the runtime's epoll thread for good; every
    /// segment of the bulk stream that follows would then wake that thread and a thread-pool worker, although
    /// the channel's receive loop never uses them (measured on loopback: about two wake-ups per 1 MiB chunk,
    /// and pool workers spinning for 5 % of a 2-vCPU machine).
    /// </remarks>
    /// <exception cref="TransportException">
    /// <see cref="TransportErrorKind.HandshakeRejected"/> for anything that is not a valid preamble (with the
    /// format error inside), <see cref="TransportErrorKind.ConnectionClosed"/> if the peer stops early.
    /// </exception>
    public static async ValueTask<Preamble> ReadAsync(TransportConnection connection, CancellationToken cancellationToken)
    {
        if (connection.CanReceiveBlocking)
            return await DedicatedThread.Run("streamkit-preamble", () => ReadBlocking(connection, cancellationToken)).ConfigureAwait(false);
        var bytes = new byte[Preamble.MaxLength];
        await connection.ReceiveExactlyAsync(bytes.AsMemory(0, LengthPrefix), cancellationToken).ConfigureAwait(false);
        int length = PeekLength(connection, bytes);
        await connection.ReceiveExactlyAsync(bytes.AsMemory(LengthPrefix, length - LengthPrefix), cancellationToken).ConfigureAwait(false);
        return Decode(connection, bytes, length);
    }

    private static Preamble ReadBlocking(TransportConnection connection, CancellationToken cancellationToken)
    {
        var bytes = new byte[Preamble.MaxLength];
        connection.ReceiveExactlyBlocking(bytes.AsSpan(0, LengthPrefix), cancellationToken);
        int length = PeekLength(connection, bytes);
        connection.ReceiveExactlyBlocking(bytes.AsSpan(LengthPrefix, length - LengthPrefix), cancellationToken);
        return Decode(connection, bytes, length);
    }

    private static int PeekLength(TransportConnection connection, byte[] bytes)
    {
        try
        {
            return Preamble.PeekLength(bytes.AsSpan(0, LengthPrefix));
        }
        catch (StreamFormatException e)
        {
            throw Rejected(connection, e, bytes);
        }
    }

    private static Preamble Decode(TransportConnection connection, byte[] bytes, int length)
    {
        try
        {
            return Preamble.Decode(bytes.AsSpan(0, length));
        }
        catch (StreamFormatException e)
        {
            throw Rejected(connection, e, bytes);
        }
    }

    private static TransportException Rejected(TransportConnection connection, StreamFormatException e, byte[] bytes)
    {
        // A TLS record (handshake 0x16, version 0x03 0x0X) where a preamble belongs: a TLS client at a plaintext listener.
        string detail = e.Code == StreamErrorCode.BadMagic && bytes[0] == 0x16 && bytes[1] == 0x03
            ? "peer started a TLS handshake, but this listener is not configured for TLS"
            : $"invalid preamble: {e.Message}";
        return new TransportException(TransportErrorKind.HandshakeRejected, detail, connection.RemoteEndPoint, e);
    }
}
