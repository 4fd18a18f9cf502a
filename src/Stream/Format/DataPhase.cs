namespace StreamKit.Wire;

/// <summary>
/// Which saving phase produced device data (chunk flags bit 3, <see cref="ChunkFlags.StopCopy"/>).
/// A device's data never goes back from <see cref="StopCopy"/> to <see cref="PreCopy"/> within an epoch.
/// </summary>
public enum DataPhase : byte
{
    /// <summary>Read while the device ran in PRE_COPY / PRE_COPY_P2P (flag clear).</summary>
    PreCopy = 0,
    /// <summary>Read in STOP_COPY, up to the final 0-byte read (flag set).</summary>
    StopCopy = 1,
}
