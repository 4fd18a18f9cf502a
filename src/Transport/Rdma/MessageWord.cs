namespace StreamKit.Transport.Rdma;

/// <summary>What an RDMA message is, from the top byte of its immediate data.</summary>
internal enum MessageKind : byte
{
    /// <summary>Channel bytes (length ≥ 1); consumes a data credit.</summary>
    Data = 0,
    /// <summary>Credit return only (length 0); consumes a control credit.</summary>
    Credit = 1,
    /// <summary>The sender's stream ends here (length 0); consumes a data credit. No DATA follows.</summary>
    End = 2,
}

/// <summary>
/// The 32-bit immediate data every message carries (spec/rdma-transport.md §5): message kind
/// plus piggybacked credit returns. Travels big-endian like any IB immediate (verbs
/// <c>__be32</c>); <see cref="ToWire"/>/<see cref="FromWire"/> convert.
/// <code>
/// bits   field
///  0-15  data_credits     data receive buffers re-posted since the last report
/// 16-23  control_credits  control receive buffers re-posted since the last report
/// 24-31  kind             MessageKind (0 data, 1 credit, 2 end; others: protocol violation)
/// </code>
/// </summary>
internal readonly record struct MessageWord(MessageKind Kind, ushort DataCredits, byte ControlCredits)
{
    internal uint Value => (uint)Kind << 24 | (uint)ControlCredits << 16 | DataCredits;

    internal static MessageWord FromValue(uint value) =>
        new((MessageKind)(value >> 24), (ushort)value, (byte)(value >> 16));

    internal uint ToWire() => BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Value) : Value;

    internal static MessageWord FromWire(uint wire) =>
        FromValue(BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(wire) : wire);

    internal bool IsKnownKind => Kind <= MessageKind.End;
}
