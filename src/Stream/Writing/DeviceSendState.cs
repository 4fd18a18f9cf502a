namespace StreamKit.Wire;

/// <summary>What the sender has written for one device: the numbers the next chunk must carry.</summary>
internal sealed class DeviceSendState(ushort device)
{
    internal ushort Device { get; } = device;
    internal uint Epoch;
    internal ulong NextSequence;
    /// <summary>Raw data bytes of the current epoch (the next DATA/ZERO_RUN offset).</summary>
    internal ulong DataOffset;
    internal ulong ConfigOffset;
    /// <summary>Running CRC32C of the epoch's raw data / config bytes.</summary>
    internal uint DataCrc;
    internal uint ConfigCrc;
    internal bool StopCopySeen;
    internal bool Ended;
    /// <summary>Raw data bytes of every epoch so far (DISCARD's bytes_discarded).</summary>
    internal ulong DataBytesAllEpochs;

    internal ulong TakeSequence() => NextSequence++;
}
