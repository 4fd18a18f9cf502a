namespace StreamKit.Wire;

/// <summary>
/// Per-type header rules the reader applies after <see cref="ChunkHeader.Decode"/> and before it
/// touches the payload (spec §3.4). The order of the checks is normative: it decides which code a
/// header with several faults gets. Each fault reports the offset of the offending field.
/// </summary>
internal static class ChunkHeaderRules
{
    /// <exception cref="StreamFormatException">The header breaks a rule.</exception>
    internal static void Check(in ChunkHeader h, long at, PreambleRole role, uint maxPayload, bool lz4Announced)
    {
        bool known = ChunkTypeRules.IsKnown(h.Type);
        string name = ChunkTypeRules.Name(h.Type);

        // 1. Type: unknown without OPTIONAL, or a known type of the other direction.
        if (!known && (h.Flags & ChunkFlags.Optional) == 0)
            throw Fail(StreamErrorCode.UnknownMandatoryType, at + ChunkHeader.TypeOffset, $"unknown chunk type {name} without the OPTIONAL flag");
        if (known && !ChunkTypeRules.AllowedOn(h.Type, role))
            throw Fail(StreamErrorCode.UnexpectedChunk, at + ChunkHeader.TypeOffset, $"{name} does not belong on a {(role == PreambleRole.Forward ? "forward" : "return-path")} channel");

        // 2. Lengths against min(announced, local) before anything is buffered or allocated.
        if (h.WireLength > maxPayload)
            throw Fail(StreamErrorCode.LengthOverLimit, at + ChunkHeader.WireLengthOffset, $"{name} wire_length {h.WireLength} exceeds the limit {maxPayload}");
        if (h.RawLength > maxPayload)
            throw Fail(StreamErrorCode.LengthOverLimit, at + ChunkHeader.RawLengthOffset, $"{name} raw_length {h.RawLength} exceeds the limit {maxPayload}");

        // 3. Flags that the type or the preamble does not allow.
        bool lz4 = h.Codec == PayloadCodec.Lz4;
        if (lz4 && !lz4Announced)
            throw Fail(StreamErrorCode.BadFlags, at + ChunkHeader.FlagsOffset, $"{name} uses LZ4 but the preamble does not announce the LZ4 capability");
        if (lz4 && !ChunkTypeRules.AllowsLz4(h.Type))
            throw Fail(StreamErrorCode.BadFlags, at + ChunkHeader.FlagsOffset, $"{name} must be stored, not LZ4");
        if ((h.Flags & ChunkFlags.StopCopy) != 0 && !ChunkTypeRules.AllowsStopCopyFlag(h.Type))
            throw Fail(StreamErrorCode.BadFlags, at + ChunkHeader.FlagsOffset, $"{name} must not carry the STOP_COPY flag");

        // 4. Codec length rules.
        if (h.Type == ChunkType.ZeroRun)
        {
            if (h.WireLength != 0)
                throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.WireLengthOffset, $"ZERO_RUN has wire_length {h.WireLength}, must be 0");
            if (h.RawLength == 0)
                throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.RawLengthOffset, "ZERO_RUN has raw_length 0");
            if (h.PayloadCrc != 0)
                throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.PayloadCrcOffset, "ZERO_RUN payload_crc must be 0");
        }
        else if (lz4)
        {
            if (h.WireLength == 0 || h.RawLength == 0)
                throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.WireLengthOffset, $"LZ4 {name} with wire_length {h.WireLength}, raw_length {h.RawLength}: both must be ≥ 1");
        }
        else if (h.WireLength != h.RawLength)
        {
            throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.RawLengthOffset, $"stored {name} with wire_length {h.WireLength} ≠ raw_length {h.RawLength}");
        }

        // 5. Scope.
        if (!known) return; // unknown optional: skipped by consumers; no further rules apply
        if (ChunkTypeRules.IsDeviceScoped(h))
        {
            if (h.Device == 0)
                throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.DeviceOffset, $"device-scoped {name} with device id 0");
        }
        else
        {
            CheckZero(h.Device, at + ChunkHeader.DeviceOffset, name, "device");
            CheckZero(h.Epoch, at + ChunkHeader.EpochOffset, name, "epoch");
            CheckZero(h.Sequence, at + ChunkHeader.SequenceOffset, name, "sequence");
            CheckZero(h.Offset, at + ChunkHeader.OffsetOffset, name, "offset");
        }

        // 6. Type specifics.
        switch (h.Type)
        {
            case ChunkType.DeviceBegin:
                CheckZero(h.Epoch, at + ChunkHeader.EpochOffset, name, "epoch");
                CheckZero(h.Sequence, at + ChunkHeader.SequenceOffset, name, "sequence");
                CheckZero(h.Offset, at + ChunkHeader.OffsetOffset, name, "offset");
                break;
            case ChunkType.Discard:
                if (h.Epoch == 0)
                    throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.EpochOffset, "DISCARD with epoch 0; a discard starts epoch ≥ 1");
                CheckZero(h.Sequence, at + ChunkHeader.SequenceOffset, name, "sequence");
                CheckZero(h.Offset, at + ChunkHeader.OffsetOffset, name, "offset");
                break;
            case ChunkType.Data or ChunkType.Config:
                if (h.RawLength == 0)
                    throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.RawLengthOffset, $"{name} with raw_length 0");
                break;
            case ChunkType.Ack:
                CheckZero(h.Sequence, at + ChunkHeader.SequenceOffset, name, "sequence");
                CheckZero(h.WireLength, at + ChunkHeader.WireLengthOffset, name, "wire_length");
                break;
            case ChunkType.SwitchoverAck:
                CheckZero(h.WireLength, at + ChunkHeader.WireLengthOffset, name, "wire_length");
                break;
            case ChunkType.Window:
                if (h.WireLength != WindowRecord.Size)
                    throw Fail(StreamErrorCode.BadHeaderField, at + ChunkHeader.WireLengthOffset, $"WINDOW has wire_length {h.WireLength}, must be {WindowRecord.Size}");
                break;
        }
    }

    private static void CheckZero(ulong value, long at, string type, string field)
    {
        if (value != 0)
            throw Fail(StreamErrorCode.BadHeaderField, at, $"{type} must have {field} 0, has {value}");
    }

    private static StreamFormatException Fail(StreamErrorCode code, long at, string message) => new(code, at, message);
}
