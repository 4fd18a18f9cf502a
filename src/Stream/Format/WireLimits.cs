namespace StreamKit.Wire;

/// <summary>Fixed limits of wire format v1 and the recommended local limits (spec §8).</summary>
public static class WireLimits
{
    /// <summary>Smallest max_payload a preamble may announce, so every record type fits.</summary>
    public const uint MinMaxPayload = 4096;

    /// <summary>Recommended local cap on wire_length and raw_length: 16 MiB.</summary>
    public const uint DefaultMaxPayload = 16 * 1024 * 1024;

    /// <summary>Recommended local cap on devices per stream.</summary>
    public const uint DefaultMaxDevices = 256;

    /// <summary>Recommended cap on payload bytes held for cross-channel reassembly: 64 MiB.</summary>
    public const long DefaultReassemblyBytes = 64L * 1024 * 1024;

    /// <summary>Longest DEVICE_BEGIN name and driver strings, in UTF-8 bytes.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Longest ABORT / ERROR text, in UTF-8 bytes.</summary>
    public const int MaxReasonTextLength = 1024;

    /// <summary>Largest payload of any record type (ABORT / ERROR with the longest text).</summary>
    internal const int MaxRecordLength = ReasonRecord.HeaderSize + MaxReasonTextLength;

    /// <summary>Accounting cost of one buffered chunk besides its payload (keeps header-only chunks bounded).</summary>
    internal const int ReassemblyEntryOverhead = 64;
}
