namespace StreamKit.Wire;

/// <summary>Local limits and expectations of a <see cref="ChunkReader"/>.</summary>
public sealed class ChunkReaderOptions
{
    /// <summary>Local cap on wire_length and raw_length; the reader enforces min(this, announced max_payload).</summary>
    public uint MaxPayload { get; init; } = WireLimits.DefaultMaxPayload;

    /// <summary>Which preamble role this channel must carry (forward for receivers, return path for senders).</summary>
    public PreambleRole ExpectedRole { get; init; } = PreambleRole.Forward;

    /// <summary>Reject a preamble announcing LZ4 when liblz4 is missing (default). Off only for header-level inspection.</summary>
    public bool RequireCodecs { get; init; } = true;
}
