using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// DEVICE_BEGIN payload (spec §4.1): who the device is. Little-endian, 24 + name_len + driver_len bytes:
/// <code>
/// off size field
///   0   8  vfio_migration_flags   struct vfio_device_feature_migration.flags of the source device
///   8   8  stop_copy_estimate     VFIO_DEVICE_FEATURE_MIG_DATA_SIZE; UINT64_MAX = unknown
///  16   2  name_len               ≤ 255
///  18   2  driver_len             ≤ 255
///  20   4  reserved               0
///  24   n  name                   UTF-8, name_len bytes (e.g. the VMM's device id)
/// 24+n  m  driver                 UTF-8, driver_len bytes (driver hint, e.g. "mtty")
/// </code>
/// </summary>
/// <param name="MigrationFlags">VFIO migration flags (STOP_COPY 1, P2P 2, PRE_COPY 4).</param>
/// <param name="StopCopyEstimate">Estimated STOP_COPY bytes, or <see cref="UnknownEstimate"/>.</param>
/// <param name="Name">Device name, at most 255 UTF-8 bytes.</param>
/// <param name="Driver">Driver hint, at most 255 UTF-8 bytes.</param>
public readonly record struct DeviceBeginRecord(ulong MigrationFlags, ulong StopCopyEstimate, string Name, string Driver)
{
    /// <summary>Size of the fixed part before the strings.</summary>
    public const int FixedSize = 24;
    /// <summary>The stop-copy estimate value meaning "unknown".</summary>
    public const ulong UnknownEstimate = ulong.MaxValue;

    internal const int NameLengthOffset = 16;
    internal const int DriverLengthOffset = 18;
    internal const int ReservedOffset = 20;

    /// <summary>Encoded size in bytes.</summary>
    /// <exception cref="ArgumentException">A string is longer than 255 UTF-8 bytes.</exception>
    public int EncodedLength =>
        FixedSize + RecordGuard.Utf8Length(Name, WireLimits.MaxNameLength, nameof(Name)) + RecordGuard.Utf8Length(Driver, WireLimits.MaxNameLength, nameof(Driver));

    /// <summary>Writes the record; returns the bytes written (<see cref="EncodedLength"/>).</summary>
    public int Encode(Span<byte> destination)
    {
        int nameLength = RecordGuard.Utf8Length(Name, WireLimits.MaxNameLength, nameof(Name));
        int driverLength = RecordGuard.Utf8Length(Driver, WireLimits.MaxNameLength, nameof(Driver));
        int total = FixedSize + nameLength + driverLength;
        RecordGuard.EnsureRoom(destination, total, "DEVICE_BEGIN");
        BinaryPrimitives.WriteUInt64LittleEndian(destination, MigrationFlags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], StopCopyEstimate);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[NameLengthOffset..], (ushort)nameLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[DriverLengthOffset..], (ushort)driverLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[ReservedOffset..], 0);
        RecordGuard.Encode(Name, destination[FixedSize..]);
        RecordGuard.Encode(Driver, destination[(FixedSize + nameLength)..]);
        return total;
    }

    /// <summary>Decodes and checks a DEVICE_BEGIN payload.</summary>
    /// <param name="source">The whole (decoded) payload.</param>
    /// <param name="streamOffset">Absolute offset of <paramref name="source"/>[0], for errors.</param>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>.</exception>
    public static DeviceBeginRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        if (source.Length < FixedSize)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, $"DEVICE_BEGIN payload is {source.Length} bytes, needs at least {FixedSize}");
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(source[NameLengthOffset..]);
        int driverLength = BinaryPrimitives.ReadUInt16LittleEndian(source[DriverLengthOffset..]);
        if (nameLength > WireLimits.MaxNameLength)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset + NameLengthOffset, $"DEVICE_BEGIN name_len {nameLength} exceeds {WireLimits.MaxNameLength}");
        if (driverLength > WireLimits.MaxNameLength)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset + DriverLengthOffset, $"DEVICE_BEGIN driver_len {driverLength} exceeds {WireLimits.MaxNameLength}");
        RecordGuard.ExactLength(source, FixedSize + nameLength + driverLength, "DEVICE_BEGIN", streamOffset);
        RecordGuard.Reserved(BinaryPrimitives.ReadUInt32LittleEndian(source[ReservedOffset..]), "DEVICE_BEGIN", streamOffset + ReservedOffset);
        return new DeviceBeginRecord(
            BinaryPrimitives.ReadUInt64LittleEndian(source),
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            RecordGuard.Utf8(source.Slice(FixedSize, nameLength), "DEVICE_BEGIN name", streamOffset + FixedSize),
            RecordGuard.Utf8(source.Slice(FixedSize + nameLength, driverLength), "DEVICE_BEGIN driver", streamOffset + FixedSize + nameLength));
    }
}
