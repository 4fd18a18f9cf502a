using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// The preamble that starts every channel, in both directions (spec/wire-format.md §2).
/// v1.0 is 64 bytes; its length field lets later minors grow it. Little-endian:
/// <code>
/// off size field
///   0   8  magic           89 53 4B 4D 0D 0A 1A 0A  ("\x89SKM\r\n\x1a\n", PNG-style)
///   8   2  major           1
///  10   2  minor           0
///  12   4  length          total preamble bytes including the CRC (v1.0: 64; max 4096)
///  16  16  stream_id       UUID shared by every channel of one stream (RFC 9562 byte order)
///  32   2  channel_index   0 .. channel_count-1
///  34   2  channel_count   ≥ 1
///  36   4  capabilities    bits 0-15 mandatory (unknown ⇒ reject), bits 16-31 optional
///  40   4  max_payload     sender's largest wire_length and raw_length of a data chunk
///  44   4  max_devices     sender's largest device count for this stream
///  48   1  role            0 = forward (sender → receiver), 1 = return path
///  49   3  reserved        writers write 0, readers ignore
///  52   8  receive_window  return path: forward chunk bytes the receiver can hold (flow control, §6.5); forward: 0
///  60   4  crc             CRC32C of bytes 0 .. length-5
/// </code>
/// A longer preamble from a newer minor keeps these offsets; its extra bytes sit between
/// offset 60 and the CRC, which is always the last 4 bytes.
/// </summary>
public readonly record struct Preamble(
    Guid StreamId,
    ushort ChannelIndex,
    ushort ChannelCount,
    StreamCapabilities Capabilities,
    uint MaxPayload,
    uint MaxDevices,
    PreambleRole Role,
    ushort Major = Preamble.CurrentMajor,
    ushort Minor = Preamble.CurrentMinor,
    ulong ReceiveWindow = 0)
{
    /// <summary>Size of a v1.0 preamble.</summary>
    public const int Size = 64;
    /// <summary>Largest preamble length any reader accepts (bounds the read before the CRC is known).</summary>
    public const int MaxLength = 4096;
    /// <summary>Format major version written by this library.</summary>
    public const ushort CurrentMajor = 1;
    /// <summary>Format minor version written by this library.</summary>
    public const ushort CurrentMinor = 0;

    /// <summary>The 8 magic bytes.</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, 0x53, 0x4B, 0x4D, 0x0D, 0x0A, 0x1A, 0x0A];

    internal const int MajorOffset = 8;
    internal const int MinorOffset = 10;
    internal const int LengthOffset = 12;
    internal const int StreamIdOffset = 16;
    internal const int ChannelIndexOffset = 32;
    internal const int ChannelCountOffset = 34;
    internal const int CapabilitiesOffset = 36;
    internal const int MaxPayloadOffset = 40;
    internal const int MaxDevicesOffset = 44;
    internal const int RoleOffset = 48;
    internal const int ReceiveWindowOffset = 52;
    /// <summary>Bytes needed to learn the preamble's length.</summary>
    internal const int FixedPrefix = 16;

    /// <summary>Writes a v1.0 preamble (64 bytes).</summary>
    public void Encode(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException($"a preamble needs {Size} bytes", nameof(destination));
        destination = destination[..Size];
        destination.Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[MajorOffset..], Major);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[MinorOffset..], Minor);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[LengthOffset..], Size);
        StreamId.TryWriteBytes(destination.Slice(StreamIdOffset, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[ChannelIndexOffset..], ChannelIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[ChannelCountOffset..], ChannelCount);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[CapabilitiesOffset..], (uint)Capabilities);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[MaxPayloadOffset..], MaxPayload);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[MaxDevicesOffset..], MaxDevices);
        destination[RoleOffset] = (byte)Role;
        BinaryPrimitives.WriteUInt64LittleEndian(destination[ReceiveWindowOffset..], ReceiveWindow);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(Size - 4)..], Crc32C.Compute(destination[..(Size - 4)]));
    }

    /// <summary>
    /// Reads the preamble length from the first 16 bytes, after checking magic and major version,
    /// so the caller knows how many bytes to gather before <see cref="Decode"/>.
    /// </summary>
    /// <exception cref="StreamFormatException">Bad magic, unsupported major version, or a length out of range.</exception>
    public static int PeekLength(ReadOnlySpan<byte> prefix)
    {
        if (prefix.Length < FixedPrefix)
            throw new StreamFormatException(StreamErrorCode.TruncatedPreamble, prefix.Length, $"need {FixedPrefix} bytes to read the preamble length, have {prefix.Length}");
        if (!prefix[..8].SequenceEqual(Magic))
        {
            int at = 0;
            while (at < 8 && prefix[at] == Magic[at]) at++;
            throw new StreamFormatException(StreamErrorCode.BadMagic, at, $"not a StreamKit stream: magic byte {at} is 0x{prefix[at]:X2}, expected 0x{Magic[at]:X2}");
        }
        ushort major = BinaryPrimitives.ReadUInt16LittleEndian(prefix[MajorOffset..]);
        if (major != CurrentMajor)
            throw new StreamFormatException(StreamErrorCode.UnsupportedVersion, MajorOffset, $"format major version {major}; this reader implements {CurrentMajor}");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix[LengthOffset..]);
        if (length < Size || length > MaxLength || length % 8 != 0)
            throw new StreamFormatException(StreamErrorCode.BadPreambleLength, LengthOffset, $"preamble length {length} outside {Size}..{MaxLength} or not a multiple of 8");
        return (int)length;
    }

    /// <summary>Decodes and checks a whole preamble (its length from <see cref="PeekLength"/>).</summary>
    /// <exception cref="StreamFormatException">Any fault, with its offset.</exception>
    public static Preamble Decode(ReadOnlySpan<byte> source)
    {
        int length = PeekLength(source);
        if (source.Length < length)
            throw new StreamFormatException(StreamErrorCode.TruncatedPreamble, source.Length, $"preamble is {length} bytes, stream has {source.Length}");
        source = source[..length];
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(source[(length - 4)..]);
        uint actual = Crc32C.Compute(source[..(length - 4)]);
        if (stored != actual)
            throw new StreamFormatException(StreamErrorCode.PreambleChecksumMismatch, length - 4, $"preamble CRC32C 0x{stored:X8}, computed 0x{actual:X8}");
        var caps = (StreamCapabilities)BinaryPrimitives.ReadUInt32LittleEndian(source[CapabilitiesOffset..]);
        uint unknownMandatory = (uint)caps & StreamCapabilitiesBits.MandatoryMask & ~StreamCapabilitiesBits.KnownMandatory;
        if (unknownMandatory != 0)
            throw new StreamFormatException(StreamErrorCode.UnsupportedCapability, CapabilitiesOffset, $"unknown mandatory capability bits 0x{unknownMandatory:X4}");
        ushort index = BinaryPrimitives.ReadUInt16LittleEndian(source[ChannelIndexOffset..]);
        ushort count = BinaryPrimitives.ReadUInt16LittleEndian(source[ChannelCountOffset..]);
        if (count == 0 || index >= count)
            throw new StreamFormatException(StreamErrorCode.BadChannel, ChannelIndexOffset, $"channel {index} of {count}");
        byte role = source[RoleOffset];
        if (role > (byte)PreambleRole.ReturnPath)
            throw new StreamFormatException(StreamErrorCode.BadPreambleField, RoleOffset, $"unknown preamble role {role}");
        return new Preamble(
            new Guid(source.Slice(StreamIdOffset, 16), bigEndian: true),
            index, count, caps,
            BinaryPrimitives.ReadUInt32LittleEndian(source[MaxPayloadOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[MaxDevicesOffset..]),
            (PreambleRole)role,
            BinaryPrimitives.ReadUInt16LittleEndian(source[MajorOffset..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[MinorOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[ReceiveWindowOffset..]));
    }
}

/// <summary>Which direction a preamble opens.</summary>
public enum PreambleRole : byte
{
    /// <summary>Sender → receiver: device state.</summary>
    Forward = 0,
    /// <summary>Receiver → sender: acks and errors.</summary>
    ReturnPath = 1,
}

/// <summary>
/// Capability bits (preamble offset 36). Bits 0–15 are mandatory: a reader that does not know
/// (or cannot honour) one rejects the stream in the handshake. Bits 16–31 are optional hints.
/// </summary>
[Flags]
public enum StreamCapabilities : uint
{
    /// <summary>Nothing beyond the base format.</summary>
    None = 0,
    /// <summary>Chunks may carry LZ4 payloads; the receiver must be able to decode them.</summary>
    Lz4 = 1 << 0,
    /// <summary>The sender expects a return path (acks, errors, final ack) and will not close before the final ack.</summary>
    ReturnPath = 1 << 1,
    /// <summary>The sender waits for SWITCHOVER_ACK before stopping the source devices.</summary>
    SwitchoverAck = 1 << 2,
    /// <summary>Optional hint: PRECOPY_INFO chunks may appear.</summary>
    PrecopyHints = 1 << 16,
}

internal static class StreamCapabilitiesBits
{
    internal const uint MandatoryMask = 0x0000_FFFF;
    internal const uint KnownMandatory = (uint)(StreamCapabilities.Lz4 | StreamCapabilities.ReturnPath | StreamCapabilities.SwitchoverAck);
}
