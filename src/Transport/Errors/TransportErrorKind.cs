namespace StreamKit.Transport;

/// <summary>
/// What went wrong with a connection, classified once where the failure is first seen
/// (socket error codes, TLS alerts, preamble checks), so callers branch on a kind, not on text.
/// </summary>
public enum TransportErrorKind
{
    /// <summary>The address (URI) is malformed or names something this build cannot use.</summary>
    InvalidAddress,
    /// <summary>The transport exists in the format but not in this build (e.g. <c>rdma://</c>).</summary>
    NotAvailable,
    /// <summary>Nothing listens at the address (ECONNREFUSED, missing Unix socket file).</summary>
    ConnectionRefused,
    /// <summary>The host cannot be resolved or reached.</summary>
    Unreachable,
    /// <summary>The listen address (port or Unix socket path) is in use.</summary>
    AddressInUse,
    /// <summary>The peer reset or dropped the connection (ECONNRESET, EPIPE), or aborted its end.</summary>
    ConnectionReset,
    /// <summary>The peer closed the connection where more bytes were required.</summary>
    ConnectionClosed,
    /// <summary>A connect, handshake, send, idle receive or channel-group deadline passed.</summary>
    Timeout,
    /// <summary>The TLS handshake failed (certificate rejected, no client certificate, protocol mismatch, peer not speaking TLS).</summary>
    TlsFailed,
    /// <summary>TLS is required here but the peer started in plaintext (its first bytes were not a TLS ClientHello).</summary>
    TlsRequired,
    /// <summary>The peer's preamble was refused: not StreamKit, bad CRC, wrong role, stray, duplicate or inconsistent channel.</summary>
    HandshakeRejected,
    /// <summary>This side aborted the connection (cancellation, disposal, or a caller's reason).</summary>
    Aborted,
    /// <summary>Any other I/O failure (file system errors, unexpected socket errors), with the OS message.</summary>
    IoFailed,
}
