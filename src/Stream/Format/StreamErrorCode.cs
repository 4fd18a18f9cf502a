namespace StreamKit.Wire;

/// <summary>
/// Error codes of wire format v1 (spec/wire-format.md §9). The numeric values travel in
/// ABORT and ERROR chunks, so they are part of the format: never renumber.
/// </summary>
public enum StreamErrorCode : uint
{
    /// <summary>No error.</summary>
    None = 0,

    // 1xx: preamble
    /// <summary>The first 8 bytes are not the StreamKit magic (wrong protocol, or text-mode mangling).</summary>
    BadMagic = 100,
    /// <summary>Major version is not one this reader implements.</summary>
    UnsupportedVersion = 101,
    /// <summary>Preamble length field is below the v1 minimum or above the reader's cap.</summary>
    BadPreambleLength = 102,
    /// <summary>Preamble CRC32C does not match.</summary>
    PreambleChecksumMismatch = 103,
    /// <summary>A mandatory capability bit is unknown or cannot be honoured here (e.g. LZ4 without liblz4).</summary>
    UnsupportedCapability = 104,
    /// <summary>Channel index/count or stream id inconsistent (channel ≥ count, count 0, mismatched stream id).</summary>
    BadChannel = 105,
    /// <summary>The stream ended inside the preamble.</summary>
    TruncatedPreamble = 106,
    /// <summary>A preamble field is out of range (unknown role, role not the expected one, max_payload below 4096, SWITCHOVER_ACK without RETURN_PATH).</summary>
    BadPreambleField = 107,

    // 2xx: chunk header
    /// <summary>Sync word missing where a chunk header must start.</summary>
    BadSync = 200,
    /// <summary>Header CRC32C does not match.</summary>
    HeaderChecksumMismatch = 201,
    /// <summary>The stream ended inside a chunk header.</summary>
    TruncatedHeader = 202,
    /// <summary>Unknown chunk type without the OPTIONAL flag.</summary>
    UnknownMandatoryType = 203,
    /// <summary>Reserved flag bits set, or a reserved codec.</summary>
    BadFlags = 204,
    /// <summary>A length field exceeds the announced or the local limit.</summary>
    LengthOverLimit = 205,
    /// <summary>Header fields inconsistent for the type (e.g. zero-run with a payload, stored with wire ≠ raw).</summary>
    BadHeaderField = 206,

    // 3xx: payload
    /// <summary>Payload CRC32C does not match.</summary>
    PayloadChecksumMismatch = 300,
    /// <summary>The stream ended inside a payload.</summary>
    TruncatedPayload = 301,
    /// <summary>Payload structure invalid for its type (bad record layout, bad UTF-8, bad lengths).</summary>
    BadPayload = 302,
    /// <summary>LZ4 block does not decode to exactly raw-length bytes.</summary>
    DecompressionFailed = 303,
    /// <summary>The stream uses a codec this process cannot decode (LZ4 library missing).</summary>
    CodecUnavailable = 304,

    // 4xx: ordering and stream structure
    /// <summary>Per-device sequence number skipped ahead.</summary>
    SequenceGap = 400,
    /// <summary>Per-device sequence number seen twice.</summary>
    DuplicateChunk = 401,
    /// <summary>A device's epoch went backwards on one channel.</summary>
    EpochRegression = 402,
    /// <summary>Payload offset is not contiguous with the previous chunk of the epoch.</summary>
    OffsetMismatch = 403,
    /// <summary>Chunk for a device that was not announced, or announced twice.</summary>
    UnknownDevice = 404,
    /// <summary>Chunk not allowed in this position (data after device-end, begin after data, …).</summary>
    UnexpectedChunk = 405,
    /// <summary>Device-end totals or running CRC32C differ from what was received.</summary>
    DeviceDigestMismatch = 406,
    /// <summary>Stream-end totals differ from what was received.</summary>
    StreamTotalsMismatch = 407,
    /// <summary>The stream (or a channel) ended without STREAM_END, or a device without DEVICE_END.</summary>
    TruncatedStream = 408,
    /// <summary>More devices than the announced or the local limit.</summary>
    TooManyDevices = 409,
    /// <summary>Reassembly would exceed its memory cap.</summary>
    ReassemblyOverflow = 410,

    // 5xx: peer-reported and session
    /// <summary>The sender aborted the stream (ABORT chunk).</summary>
    PeerAborted = 500,
    /// <summary>The receiver reported an error on the return path.</summary>
    PeerError = 501,
    /// <summary>The destination device refused the state (write or commit failed).</summary>
    DeviceRejected = 502,
    /// <summary>The source device failed in a way discard cannot recover (e.g. reset in STOP_COPY).</summary>
    SourceDeviceFailed = 503,
    /// <summary>The peer stopped responding within the keepalive timeout.</summary>
    Timeout = 504,
    /// <summary>The migration was cancelled.</summary>
    Cancelled = 505,
    /// <summary>The connection failed (reset, closed early, TLS failure).</summary>
    ConnectionFailed = 506,
}
