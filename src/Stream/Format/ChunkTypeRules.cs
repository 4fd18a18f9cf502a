namespace StreamKit.Wire;

/// <summary>What each chunk type is allowed to be (spec §4): scope, direction, codecs, flags.</summary>
internal static class ChunkTypeRules
{
    /// <summary>Types 0x01–0x1F travel sender → receiver.</summary>
    internal const byte ForwardFirst = 0x01, ForwardLast = 0x1F;
    /// <summary>Types 0x20–0x3F travel receiver → sender.</summary>
    internal const byte ReturnFirst = 0x20, ReturnLast = 0x3F;

    internal static bool IsKnown(ChunkType type) => type switch
    {
        >= ChunkType.DeviceBegin and <= ChunkType.Padding => true,
        >= ChunkType.Ack and <= ChunkType.Window => true,
        _ => false,
    };

    /// <summary>The direction a known type belongs to.</summary>
    internal static PreambleRole DirectionOf(ChunkType type) =>
        (byte)type >= ReturnFirst ? PreambleRole.ReturnPath : PreambleRole.Forward;

    /// <summary>True when a known type may travel in <paramref name="role"/>'s direction (PADDING goes both ways, as a keepalive).</summary>
    internal static bool AllowedOn(ChunkType type, PreambleRole role) => type == ChunkType.Padding || DirectionOf(type) == role;

    /// <summary>
    /// Device-scoped chunks carry a device id ≥ 1 and take a (epoch, sequence) slot. For an unknown
    /// (optional) type the scope is read from the header: device 0 means stream-scoped.
    /// </summary>
    internal static bool IsDeviceScoped(in ChunkHeader header) => header.Type switch
    {
        >= ChunkType.DeviceBegin and <= ChunkType.DeviceEnd => true,
        ChunkType.Ack => true,
        _ when IsKnown(header.Type) => false,
        _ => header.Device != 0,
    };

    /// <summary>Device-scoped chunks that occupy a forward (epoch, sequence) slot.</summary>
    internal static bool TakesSequenceSlot(in ChunkHeader header) =>
        header.Type != ChunkType.Ack && IsDeviceScoped(header);

    /// <summary>Only DATA and CONFIG (and unknown types) may be LZ4-compressed.</summary>
    internal static bool AllowsLz4(ChunkType type) =>
        type is ChunkType.Data or ChunkType.Config || !IsKnown(type);

    /// <summary>The STOP_COPY flag is meaningful on DATA and ZERO_RUN only (unknown types: not checked).</summary>
    internal static bool AllowsStopCopyFlag(ChunkType type) =>
        type is ChunkType.Data or ChunkType.ZeroRun || !IsKnown(type);

    /// <summary>The last chunk a channel may carry in its direction.</summary>
    internal static bool IsTerminal(ChunkType type) =>
        type is ChunkType.StreamEnd or ChunkType.Abort or ChunkType.FinalAck or ChunkType.Error;

    /// <summary>Spec name of a type ("DEVICE_BEGIN"), or hex for unknown values.</summary>
    internal static string Name(ChunkType type) => type switch
    {
        ChunkType.DeviceBegin => "DEVICE_BEGIN",
        ChunkType.Data => "DATA",
        ChunkType.ZeroRun => "ZERO_RUN",
        ChunkType.Config => "CONFIG",
        ChunkType.PrecopyInfo => "PRECOPY_INFO",
        ChunkType.Discard => "DISCARD",
        ChunkType.DeviceEnd => "DEVICE_END",
        ChunkType.StreamEnd => "STREAM_END",
        ChunkType.Abort => "ABORT",
        ChunkType.Padding => "PADDING",
        ChunkType.Ack => "ACK",
        ChunkType.SwitchoverAck => "SWITCHOVER_ACK",
        ChunkType.Error => "ERROR",
        ChunkType.FinalAck => "FINAL_ACK",
        ChunkType.Window => "WINDOW",
        _ => $"0x{(byte)type:X2}",
    };
}
