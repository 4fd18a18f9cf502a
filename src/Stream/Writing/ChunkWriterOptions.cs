namespace StreamKit.Wire;

/// <summary>Compresses one payload into <paramref name="destination"/>; returns bytes written, 0 if it does not fit.</summary>
internal delegate int PayloadCompressor(ReadOnlySpan<byte> source, Span<byte> destination);

/// <summary>How a <see cref="ChunkWriter"/> frames a stream. One instance describes the whole stream (all channels).</summary>
public sealed class ChunkWriterOptions
{
    /// <summary>Stream id written into every channel's preamble. Default: a new random UUID.</summary>
    public Guid StreamId { get; init; } = Guid.NewGuid();

    /// <summary>Largest wire_length / raw_length this sender produces; announced in the preamble. At least 4096.</summary>
    public uint MaxPayload { get; init; } = WireLimits.DefaultMaxPayload;

    /// <summary>Piece size <see cref="ChunkWriter.WriteData"/> cuts data into (≤ <see cref="MaxPayload"/>). Default 1 MiB, as QEMU.</summary>
    public int ChunkSize { get; init; } = 1024 * 1024;

    /// <summary>Most devices this stream will carry; announced in the preamble.</summary>
    public uint MaxDevices { get; init; } = WireLimits.DefaultMaxDevices;

    /// <summary>LZ4-compress DATA and CONFIG payloads when it saves at least 1/8 (sets the LZ4 capability).</summary>
    public bool Compress { get; init; }

    /// <summary>LZ4 acceleration (1 = default ratio; higher is faster and compresses less).</summary>
    public int CompressionAcceleration { get; init; } = 1;

    /// <summary>Send an all-zero DATA payload as a header-only ZERO_RUN chunk. Default on.</summary>
    public bool DetectZeroRuns { get; init; } = true;

    /// <summary>Capability bits to announce besides LZ4 (RETURN_PATH, SWITCHOVER_ACK, PRECOPY_HINTS).</summary>
    public StreamCapabilities Capabilities { get; init; }

    /// <summary>Test seam: a deterministic compressor instead of liblz4 (test vectors must not depend on the liblz4 version).</summary>
    internal PayloadCompressor? Compressor { get; init; }

    internal StreamCapabilities AnnouncedCapabilities => Capabilities | (Compress ? StreamCapabilities.Lz4 : 0);

    internal void Validate()
    {
        if (MaxPayload < WireLimits.MinMaxPayload)
            throw new ArgumentOutOfRangeException(nameof(MaxPayload), MaxPayload, $"max payload must be at least {WireLimits.MinMaxPayload}");
        if (MaxPayload > int.MaxValue - 4096)
            throw new ArgumentOutOfRangeException(nameof(MaxPayload), MaxPayload, "max payload must fit one .NET span");
        if (ChunkSize < 1 || (uint)ChunkSize > MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(ChunkSize), ChunkSize, $"chunk size must be 1..{MaxPayload}");
        if (MaxDevices == 0)
            throw new ArgumentOutOfRangeException(nameof(MaxDevices), MaxDevices, "max devices must be at least 1");
        uint unknown = (uint)Capabilities & StreamCapabilitiesBits.MandatoryMask & ~StreamCapabilitiesBits.KnownMandatory;
        if (unknown != 0)
            throw new ArgumentException($"unknown mandatory capability bits 0x{unknown:X4}", nameof(Capabilities));
        if ((Capabilities & StreamCapabilities.SwitchoverAck) != 0 && (Capabilities & StreamCapabilities.ReturnPath) == 0)
            throw new ArgumentException("SWITCHOVER_ACK needs RETURN_PATH", nameof(Capabilities));
        if (Compress && Compressor is null) Lz4Codec.EnsureAvailable();
    }
}
