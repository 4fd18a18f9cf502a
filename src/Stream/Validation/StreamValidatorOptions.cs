namespace StreamKit.Wire;

/// <summary>Local limits of a <see cref="StreamValidator"/>.</summary>
public sealed class StreamValidatorOptions
{
    /// <summary>Local cap on devices; the validator enforces min(this, announced max_devices).</summary>
    public uint MaxDevices { get; init; } = WireLimits.DefaultMaxDevices;

    /// <summary>Cap on payload bytes (plus 64 per chunk) held while waiting for a chunk from another channel.</summary>
    public long ReassemblyLimit { get; init; } = WireLimits.DefaultReassemblyBytes;
}
