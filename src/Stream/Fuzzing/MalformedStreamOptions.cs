namespace StreamKit.Wire.Fuzzing;

/// <summary>What the <see cref="MalformedStreamGenerator"/> and <see cref="StreamMutator"/> produce.</summary>
public sealed class MalformedStreamOptions
{
    /// <summary>Most forward channels per stream (1-8). Default 3.</summary>
    public int MaxChannels { get; init; } = 3;

    /// <summary>Most devices per stream (1-64). Default 3.</summary>
    public int MaxDevices { get; init; } = 3;

    /// <summary>Most raw data bytes a device sends per epoch. Default 12 KiB (cases stay small and fast).</summary>
    public int MaxDeviceBytes { get; init; } = 12 * 1024;

    /// <summary>Largest max_payload the valid streams announce (≥ 4096). Default 16 KiB.</summary>
    public uint MaxPayload { get; init; } = 16 * 1024;

    /// <summary>Let valid streams use LZ4 when liblz4 is installed. Default on.</summary>
    public bool UseLz4 { get; init; } = true;

    /// <summary>Percentage of generated cases left valid (no mutation), so acceptance is exercised too. Default 5.</summary>
    public int ValidPercent { get; init; } = 5;

    /// <summary>Most mutations applied to one case. Default 3.</summary>
    public int MaxMutations { get; init; } = 3;

    /// <summary>Percentage of mutated cases whose CRCs are recomputed afterwards, so faults reach the layers behind the checksums. Default 80.</summary>
    public int ResealPercent { get; init; } = 80;

    internal void Validate()
    {
        if (MaxChannels is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(MaxChannels), MaxChannels, "1..8 channels");
        if (MaxDevices is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(MaxDevices), MaxDevices, "1..64 devices");
        if (MaxDeviceBytes is < 1 or > 64 * 1024 * 1024) throw new ArgumentOutOfRangeException(nameof(MaxDeviceBytes), MaxDeviceBytes, "1 byte .. 64 MiB");
        if (MaxPayload < WireLimits.MinMaxPayload || MaxPayload > WireLimits.DefaultMaxPayload)
            throw new ArgumentOutOfRangeException(nameof(MaxPayload), MaxPayload, $"{WireLimits.MinMaxPayload}..{WireLimits.DefaultMaxPayload}");
        if (ValidPercent is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(ValidPercent), ValidPercent, "0..100");
        if (MaxMutations is < 1 or > 32) throw new ArgumentOutOfRangeException(nameof(MaxMutations), MaxMutations, "1..32");
        if (ResealPercent is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(ResealPercent), ResealPercent, "0..100");
    }
}

/// <summary>Which part of a stream the mutations aim at.</summary>
public enum MutationFocus
{
    /// <summary>Every kind, weighted towards header fields, payload records and structure.</summary>
    Any,
    /// <summary>Preamble fields (version, length, stream id, channels, capabilities, limits, role).</summary>
    Preamble,
    /// <summary>Chunk header fields (lengths, type, flags, device, epoch, sequence, offset, CRCs).</summary>
    Header,
    /// <summary>Payload record fields (DEVICE_BEGIN, DISCARD, DEVICE_END, STREAM_END, …) and LZ4 blocks.</summary>
    Payload,
    /// <summary>Chunk order: drops, duplicates, swaps, moves across channels, splices, floods.</summary>
    Structure,
    /// <summary>Unstructured bytes: truncations, bit flips, insertions, deletions.</summary>
    Bytes,
}
