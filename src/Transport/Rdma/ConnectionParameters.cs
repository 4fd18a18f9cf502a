using System.Buffers.Binary;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// The transport parameters each side sends in the rdma_cm private data (client: in
/// rdma_connect's REQ; server: in rdma_accept's REP) — spec/rdma-transport.md §3. 24 bytes,
/// little-endian:
/// <code>
/// off size field
///   0   4  magic            "SKRD" (53 4B 52 44)
///   4   2  version          1
///   6   2  flags            0 (unknown bits: reject)
///   8   4  buffer_size      bytes in each receive buffer the sender of this block posted:
///                           the largest message the peer may send to it
///  12   2  data_credits     receive buffers granted for data messages (initial credits)
///  14   2  control_credits  receive buffers reserved for credit-only messages
///  16   8  reserved         0
/// </code>
/// The IB CM pads private data to its fixed size with zeros, so a receiver reads the first 24
/// bytes and ignores the rest.
/// </summary>
internal readonly record struct ConnectionParameters(int BufferSize, int DataCredits, int ControlCredits)
{
    internal const int Size = 24;
    internal const ushort CurrentVersion = 1;
    internal const uint MagicValue = 0x44524B53; // "SKRD" read as little-endian
    internal const int MinBufferSize = 1024;
    internal const int MaxBufferSize = 64 << 20;
    internal const int MaxDataCredits = ushort.MaxValue;
    internal const int MaxControlCredits = byte.MaxValue;

    internal void Encode(Span<byte> destination)
    {
        destination = destination[..Size];
        destination.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination, MagicValue);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], CurrentVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)BufferSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], (ushort)DataCredits);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], (ushort)ControlCredits);
    }

    /// <summary>Decodes and range-checks a peer's block.</summary>
    /// <returns>Null when valid, else why not (with the reject reason to send).</returns>
    internal static (RejectReason Reason, string Text)? TryDecode(ReadOnlySpan<byte> source, out ConnectionParameters parameters)
    {
        parameters = default;
        if (source.Length < Size)
            return (RejectReason.NotStreamKit, $"private data is {source.Length} bytes, need {Size}");
        if (BinaryPrimitives.ReadUInt32LittleEndian(source) != MagicValue)
            return (RejectReason.NotStreamKit, $"private data magic 0x{BinaryPrimitives.ReadUInt32LittleEndian(source):X8} is not SKRD");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[4..]);
        if (version != CurrentVersion)
            return (RejectReason.UnsupportedVersion, $"RDMA transport version {version}; this side implements {CurrentVersion}");
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(source[6..]);
        if (flags != 0)
            return (RejectReason.BadParameters, $"unknown transport flags 0x{flags:X4}");
        uint bufferSize = BinaryPrimitives.ReadUInt32LittleEndian(source[8..]);
        if (bufferSize < MinBufferSize || bufferSize > MaxBufferSize)
            return (RejectReason.BadParameters, $"buffer size {bufferSize} outside {MinBufferSize}..{MaxBufferSize}");
        ushort data = BinaryPrimitives.ReadUInt16LittleEndian(source[12..]);
        ushort control = BinaryPrimitives.ReadUInt16LittleEndian(source[14..]);
        if (data == 0 || control == 0 || control > MaxControlCredits)
            return (RejectReason.BadParameters, $"credits data={data} control={control}: each must be 1..{ushort.MaxValue} (control ≤ {MaxControlCredits})");
        parameters = new ConnectionParameters((int)bufferSize, data, control);
        return null;
    }
}

/// <summary>Why a side refused a connection (travels in the reject private data).</summary>
internal enum RejectReason : uint
{
    /// <summary>The private data is not a StreamKit block (wrong protocol).</summary>
    NotStreamKit = 1,
    /// <summary>A transport version this side does not implement.</summary>
    UnsupportedVersion = 2,
    /// <summary>Parameters out of range.</summary>
    BadParameters = 3,
    /// <summary>This side could not allocate or register its buffers.</summary>
    NoResources = 4,
}

/// <summary>
/// The private data of an rdma_reject from a StreamKit side (at most 148 bytes):
/// <code>
/// off size field
///   0   4  magic   "SKRJ" (53 4B 52 4A)
///   4   4  reason  RejectReason
///   8   n  text    UTF-8, n ≤ 140, NUL padding ignored
/// </code>
/// </summary>
internal static class RejectMessage
{
    internal const int MaxSize = 148;
    internal const uint MagicValue = 0x4A524B53; // "SKRJ"

    internal static int Encode(RejectReason reason, string text, Span<byte> destination)
    {
        destination = destination[..MaxSize];
        BinaryPrimitives.WriteUInt32LittleEndian(destination, MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)reason);
        var textSpace = destination[8..];
        // Convert stops at the last whole character that fits: long texts are cut, never split mid-character.
        System.Text.Encoding.UTF8.GetEncoder().Convert(text, textSpace, flush: true, out _, out int n, out _);
        return 8 + n;
    }

    /// <summary>Reads a StreamKit reject; null when the data is not one (e.g. the IB CM's own reject).</summary>
    internal static (RejectReason Reason, string Text)? TryDecode(ReadOnlySpan<byte> source)
    {
        if (source.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(source) != MagicValue) return null;
        var text = source[8..Math.Min(source.Length, MaxSize)];
        int end = text.IndexOf((byte)0);
        if (end >= 0) text = text[..end];
        return ((RejectReason)BinaryPrimitives.ReadUInt32LittleEndian(source[4..]), System.Text.Encoding.UTF8.GetString(text));
    }
}
