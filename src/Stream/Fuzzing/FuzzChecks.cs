namespace StreamKit.Wire.Fuzzing;

/// <summary>Checks shared by the wire-format fuzz targets.</summary>
internal static class FuzzChecks
{
    /// <summary>The typed error is well-formed: a spec code, a message, an offset inside the channel (or −1 where the spec allows it).</summary>
    internal static void TypedError(string target, StreamFormatException e, long channelLength, bool endOfStreamAllowed = false)
    {
        if (!Enum.IsDefined(e.Code) || e.Code == StreamErrorCode.None)
            throw new FuzzInvariantException(target, $"error code {(uint)e.Code} is not a spec code", e);
        if (string.IsNullOrWhiteSpace(e.Message))
            throw new FuzzInvariantException(target, "error without a message", e);
        bool positionless = endOfStreamAllowed && e.StreamOffset == -1 && (uint)e.Code / 100 == 4;
        if (!positionless && (e.StreamOffset < 0 || e.StreamOffset > channelLength))
            throw new FuzzInvariantException(target, $"{e.Code} reported at offset {e.StreamOffset}, outside the channel (0..{channelLength})", e);
    }

    internal static FuzzInvariantException Mismatch(string target, string what, object? expected, object? actual) =>
        new(target, $"{what}: expected {expected}, got {actual}");
}

/// <summary>What a run ended with, for comparing two runs of the same bytes.</summary>
internal readonly record struct FuzzOutcome(bool Ok, StreamErrorCode Code, long Offset, long Items, uint Digest)
{
    internal static FuzzOutcome Failed(StreamFormatException e, long items, uint digest) => new(false, e.Code, e.StreamOffset, items, digest);

    public override string ToString() => Ok ? $"ok after {Items} items (digest 0x{Digest:X8})" : $"{Code} at {Offset} after {Items} items (digest 0x{Digest:X8})";
}
