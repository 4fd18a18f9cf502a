namespace StreamKit.Wire;

/// <summary>
/// Chunk types of wire format v1 (spec/wire-format.md §4). Values 0x01–0x1F travel
/// sender → receiver; 0x20–0x3F travel on the return path (receiver → sender).
/// Whether an unknown type may be skipped is carried by <see cref="ChunkFlags.Optional"/>,
/// never inferred from the value.
/// </summary>
public enum ChunkType : byte
{
    /// <summary>Announces a device: id, name, driver hint, VFIO migration flags, stop-copy estimate.</summary>
    DeviceBegin = 0x01,
    /// <summary>Opaque device state bytes (pre-copy or stop-copy phase), stored or LZ4-compressed.</summary>
    Data = 0x02,
    /// <summary>A run of zero device bytes; raw length = run length, no payload.</summary>
    ZeroRun = 0x03,
    /// <summary>Device configuration/metadata (e.g. PCI config space), framed apart from device data and loaded last.</summary>
    Config = 0x04,
    /// <summary>VFIO pre-copy hints: initial and dirty byte counts.</summary>
    PrecopyInfo = 0x05,
    /// <summary>Device was reset on the source: drop everything of older epochs, reset, resume again.</summary>
    Discard = 0x06,
    /// <summary>End of a device's epoch stream: totals and running CRC32C over all data bytes.</summary>
    DeviceEnd = 0x07,
    /// <summary>End of the stream on this channel, with totals.</summary>
    StreamEnd = 0x08,
    /// <summary>The sender gives up: reason code and text.</summary>
    Abort = 0x09,
    /// <summary>Padding or keepalive; payload ignored (but checksummed). The one type valid in both directions.</summary>
    Padding = 0x0A,

    /// <summary>Return path: bytes of (device, epoch) durably written, contiguous from 0, in the header's offset field.</summary>
    Ack = 0x20,
    /// <summary>Return path: initial pre-copy bytes of every device absorbed; the source may stop the VM.</summary>
    SwitchoverAck = 0x21,
    /// <summary>Return path: the receiver failed; reason code and text.</summary>
    Error = 0x22,
    /// <summary>Return path: everything committed; the sender may close.</summary>
    FinalAck = 0x23,
    /// <summary>Return path (OPTIONAL): forward chunk bytes the receiver has finished with, for the sender's flow-control window.</summary>
    Window = 0x24,
}
