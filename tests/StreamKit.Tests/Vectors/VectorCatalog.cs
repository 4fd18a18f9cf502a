using System.Buffers.Binary;
using StreamKit.Wire;

namespace StreamKit.Tests.Vectors;

/// <summary>Expected final state of one device in a valid vector (its DEVICE_END, as the model computed it).</summary>
internal sealed record DeviceExpectation(ushort Device, uint FinalEpoch, ulong DataBytes, ulong ConfigBytes, string DataCrc32C, string ConfigCrc32C);

/// <summary>The error a malformed vector must produce: code, the file it is in, the absolute offset.</summary>
internal sealed record ErrorExpectation(string Code, uint Value, string File, long Offset);

/// <summary>One test vector: its files and the decode they must give.</summary>
internal sealed record TestVector(
    string Name,
    string Description,
    IReadOnlyList<(string File, byte[] Bytes)> Files,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Chunks,
    IReadOnlyList<DeviceExpectation>? Devices,
    ErrorExpectation? Error,
    ulong? ReturnPathWindow = null)
{
    /// <summary>A return-path vector (role 1): decoded with a return-path reader and <see cref="ReturnPathValidator"/>.</summary>
    public bool IsReturnPath => ReturnPathWindow is not null;

    public bool IsValid => Error is null;
}

/// <summary>
/// The generator of spec/vectors/: every vector is built deterministically (fixed stream id, SplitMix64
/// data, a fixed LZ4 encoder) from a script whose expected chunks an independent model derives.
/// </summary>
internal static class VectorCatalog
{
    public static IReadOnlyList<TestVector> All { get; } = Build();

    private static IReadOnlyList<TestVector> Build() =>
    [
        OneDevice(),
        TwoDevices(),
        Compressed(),
        ZeroRuns(),
        DiscardMidPrecopy(),
        TwoChannels(),
        UnknownOptional(),
        NewerMinor(),
        BadMagic(),
        UnknownMajor(),
        BadPreambleCrc(),
        BadHeaderCrc(),
        BadPayloadCrc(),
        TruncatedHeader(),
        TruncatedPayload(),
        TruncatedStream(),
        LengthOverLimit(),
        SequenceGap(),
        Duplicate(),
        EpochRegression(),
        UnknownMandatory(),
        DigestMismatch(),
        Aborted(),
        ReturnPath(),
        WindowRegression(),
    ];

    // ---- valid ----

    /// <summary>The mtty-like single device stream most malformed vectors start from. Chunk indices: 0 BEGIN, 1 INFO, 2 DATA pre, 3 INFO, 4 DATA stop, 5 CONFIG, 6 END, 7 STREAM_END.</summary>
    private static VectorBuilder OneDeviceStream()
    {
        var rng = new DeterministicRandom(1);
        var b = new VectorBuilder();
        b.Begin(1, "mtty-a", "mtty", flags: 0x7, estimate: 96);
        b.PrecopyInfo(1, 24, 0);
        b.Data(1, MttyHeader(), DataPhase.PreCopy);
        b.PrecopyInfo(1, 0, 0);
        b.Data(1, rng.Bytes(72), DataPhase.StopCopy);
        b.Config(1, rng.Bytes(16));
        b.End(1);
        b.EndStream();
        return b;
    }

    private static TestVector OneDevice() => Valid("one-device",
        "One mtty-like device: DEVICE_BEGIN, PRECOPY_INFO, 24-byte pre-copy DATA, PRECOPY_INFO (0,0), 72-byte stop-copy DATA, CONFIG, DEVICE_END, STREAM_END.",
        OneDeviceStream());

    private static TestVector TwoDevices()
    {
        var rng = new DeterministicRandom(2);
        var b = new VectorBuilder();
        b.Begin(1, "gpu0", "mlx5_vfio_pci", flags: 0x7, estimate: 40000);
        b.Begin(2, "nic1", "hisi_acc_vfio_pci", flags: 0x5, estimate: 300);
        b.Data(1, rng.Bytes(20000), DataPhase.PreCopy); // two chunks: 16384 + 3616
        b.Data(2, rng.Bytes(100), DataPhase.PreCopy);
        b.Data(1, rng.Bytes(5000), DataPhase.StopCopy);
        b.Data(2, rng.Bytes(200), DataPhase.StopCopy);
        b.End(2);
        b.Data(1, rng.Bytes(3000), DataPhase.StopCopy);
        b.End(1);
        b.EndStream();
        return Valid("two-devices", "Two devices interleaved on one channel; device 1's 20000-byte write is cut into 16384 + 3616; device 2 ends first.", b);
    }

    private static TestVector Compressed()
    {
        var rng = new DeterministicRandom(3);
        var b = new VectorBuilder(compress: true);
        b.Begin(1, "mtty-a", "mtty");
        b.Data(1, rng.Text(12000), DataPhase.PreCopy);   // LZ4
        b.Data(1, rng.Bytes(3000), DataPhase.PreCopy);   // random: stored although LZ4 is on
        b.Data(1, new byte[4096], DataPhase.PreCopy);    // zero run
        b.Data(1, rng.Text(40), DataPhase.StopCopy);     // too small to try: stored
        b.Data(1, rng.Text(5000), DataPhase.StopCopy);   // LZ4
        b.Config(1, rng.Text(300));                      // LZ4 config
        b.End(1);
        b.EndStream();
        return Valid("compressed", "LZ4 capability: compressible DATA and CONFIG as LZ4 blocks, random DATA stored, an all-zero page as ZERO_RUN, a 40-byte payload stored.", b);
    }

    private static TestVector ZeroRuns()
    {
        var rng = new DeterministicRandom(4);
        var b = new VectorBuilder();
        b.Begin(1, "mtty-a", "mtty");
        b.Data(1, new byte[8192], DataPhase.PreCopy);          // detected: ZERO_RUN 8192
        b.Data(1, rng.Bytes(100), DataPhase.PreCopy);
        b.ZeroRun(1, 65536, DataPhase.StopCopy);                // explicit, max_payload long
        var mixed = new byte[16384 + 50];
        rng.Fill(mixed.AsSpan(16384));                          // 16384 zeros, then 50 random bytes
        b.Data(1, mixed, DataPhase.StopCopy);                   // ZERO_RUN 16384 + DATA 50
        b.End(1);
        b.EndStream();
        return Valid("zero-runs", "ZERO_RUN chunks: detected all-zero payloads and an explicit 65536-byte run; the device digest covers the zeros.", b);
    }

    /// <summary>Chunk indices: 0 BEGIN1, 1 BEGIN2, 2 INFO1, 3 DATA1, 4 DATA2, 5 DATA1, 6 DISCARD1, 7 INFO1, 8 DATA1, 9 DATA2 stop, 10 END2, 11 DATA1 stop, 12 END1, 13 STREAM_END.</summary>
    private static VectorBuilder DiscardStream()
    {
        var rng = new DeterministicRandom(5);
        var b = new VectorBuilder();
        b.Begin(1, "mtty-a", "mtty", estimate: 96);
        b.Begin(2, "mtty-b", "mtty", estimate: 96);
        b.PrecopyInfo(1, 24, 0);
        b.Data(1, MttyHeader(), DataPhase.PreCopy);
        b.Data(2, MttyHeader(), DataPhase.PreCopy);
        b.Data(1, rng.Bytes(500), DataPhase.PreCopy);
        b.Discard(1, DiscardReason.SourceDeviceReset);
        b.PrecopyInfo(1, 24, 0);
        b.Data(1, MttyHeader(), DataPhase.PreCopy);
        b.Data(2, rng.Bytes(72), DataPhase.StopCopy);
        b.End(2);
        b.Data(1, rng.Bytes(72), DataPhase.StopCopy);
        b.End(1);
        b.EndStream();
        return b;
    }

    private static TestVector DiscardMidPrecopy() => Valid("discard",
        "Device 1 is reset during pre-copy after 524 bytes: DISCARD opens epoch 1 (bytes_discarded 524) and pre-copy restarts at offset 0; device 2 is unaffected.",
        DiscardStream());

    private static TestVector TwoChannels()
    {
        var rng = new DeterministicRandom(6);
        var b = new VectorBuilder(channels: 2);
        b.Begin(1, "mtty-a", "mtty", channel: 0);
        b.Begin(2, "mtty-b", "mtty", channel: 1);
        b.Data(1, MttyHeader(), DataPhase.PreCopy, channel: 0);   // 1: e0 s1
        b.Data(1, rng.Bytes(300), DataPhase.PreCopy, channel: 0); // 1: e0 s2 (arrives after the DISCARD when read in turn)
        b.Data(2, rng.Bytes(200), DataPhase.PreCopy, channel: 0); // 2: e0 s1
        b.Discard(1, DiscardReason.SourceDeviceReset, channel: 1); // 1: e1 s0
        b.Data(1, MttyHeader(), DataPhase.PreCopy, channel: 1);   // 1: e1 s1
        b.Data(2, rng.Bytes(200), DataPhase.StopCopy, channel: 1); // 2: e0 s2
        b.Data(1, rng.Bytes(72), DataPhase.StopCopy, channel: 0);  // 1: e1 s2
        b.End(2, channel: 0);
        b.End(1, channel: 1);
        b.EndAll();
        return Valid("two-channels",
            "One stream split over two channels (two files, channel 0 and 1): each device's chunks alternate channels; device 1's DISCARD travels on channel 1 while an epoch-0 chunk is still queued on channel 0 (dropped as stale when read in turn).",
            b, "two-channels.0.bin", "two-channels.1.bin");
    }

    private static TestVector UnknownOptional()
    {
        var rng = new DeterministicRandom(7);
        var b = new VectorBuilder();
        b.Begin(1, "mtty-a", "mtty");
        b.Opaque((ChunkType)0x1D, ChunkFlags.Optional, 0, rng.Bytes(20));   // stream-scoped, unknown, optional
        b.Data(1, MttyHeader(), DataPhase.PreCopy);
        b.Opaque((ChunkType)0x1C, ChunkFlags.Optional, 1, rng.Bytes(12));   // device-scoped: holds sequence 2
        b.Padding(40);
        b.Data(1, rng.Bytes(72), DataPhase.StopCopy);
        b.End(1);
        b.EndStream();
        return Valid("unknown-optional",
            "Unknown OPTIONAL types are skipped: 0x1D stream-scoped (device 0) and 0x1C device-scoped (device 1, holds sequence 2 of epoch 0); plus a 40-byte PADDING chunk.", b);
    }

    private static TestVector NewerMinor()
    {
        var b = OneDeviceStream();
        var bytes = b.Bytes();
        var extension = Enumerable.Repeat((byte)0xA5, 8).ToArray();
        var grown = Mutate.Insert(bytes, Preamble.Size - 4, extension);
        BinaryPrimitives.WriteUInt16LittleEndian(grown.AsSpan(Preamble.MinorOffset), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(grown.AsSpan(Preamble.LengthOffset), Preamble.Size + 8);
        Mutate.Reseal(grown.AsSpan(0, Preamble.Size + 8));
        return new TestVector("newer-minor",
            "The one-device stream from a v1.1 writer: 72-byte preamble (8 unknown bytes before the CRC), minor 1. A v1.0 reader accepts it.",
            [("newer-minor.bin", grown)],
            new Dictionary<string, IReadOnlyList<string>> { ["newer-minor.bin"] = b.Chunks().Select(c => c.Line).ToList() },
            b.Devices, null);
    }

    // ---- malformed ----

    private static TestVector BadMagic()
    {
        var bytes = Mutate.FlipBit(OneDeviceStream().Bytes(), 0, 7); // 0x89 -> 0x09: a 7-bit channel stripped the high bit
        return Invalid("bad-magic", "Magic byte 0 is 0x09 instead of 0x89 (high bit stripped by a 7-bit channel).", bytes, StreamErrorCode.BadMagic, 0);
    }

    private static TestVector UnknownMajor()
    {
        var bytes = Mutate.Preamble(OneDeviceStream().Bytes(), p => BinaryPrimitives.WriteUInt16LittleEndian(p[Preamble.MajorOffset..], 2));
        return Invalid("unknown-major", "Preamble major version 2 (CRC valid): rejected.", bytes, StreamErrorCode.UnsupportedVersion, Preamble.MajorOffset);
    }

    private static TestVector BadPreambleCrc()
    {
        var bytes = Mutate.FlipBit(OneDeviceStream().Bytes(), Preamble.StreamIdOffset + 4, 0);
        return Invalid("bad-preamble-crc", "One bit of the stream id flipped; the preamble CRC no longer matches.", bytes, StreamErrorCode.PreambleChecksumMismatch, Preamble.Size - 4);
    }

    private static TestVector BadHeaderCrc()
    {
        var b = OneDeviceStream();
        var data = b.Chunks()[2];
        var bytes = Mutate.FlipBit(b.Bytes(), data.Offset + ChunkHeader.SequenceOffset, 1);
        return Invalid("bad-header-crc", "One bit of the third chunk's sequence field flipped; its header CRC no longer matches.", bytes, StreamErrorCode.HeaderChecksumMismatch, data.Offset);
    }

    private static TestVector BadPayloadCrc()
    {
        var b = OneDeviceStream();
        var data = b.Chunks()[2];
        var bytes = Mutate.FlipBit(b.Bytes(), data.Offset + ChunkHeader.Size + 5, 3);
        return Invalid("bad-payload-crc", "One bit of the pre-copy DATA payload flipped; its payload CRC no longer matches.", bytes, StreamErrorCode.PayloadChecksumMismatch, data.Offset + ChunkHeader.Size);
    }

    private static TestVector TruncatedHeader()
    {
        var b = OneDeviceStream();
        var bytes = Mutate.Cut(b.Bytes(), b.Chunks()[3].Offset + 20);
        return Invalid("truncated-header", "The input ends 20 bytes into the fourth chunk's header.", bytes, StreamErrorCode.TruncatedHeader, bytes.Length);
    }

    private static TestVector TruncatedPayload()
    {
        var b = OneDeviceStream();
        var bytes = Mutate.Cut(b.Bytes(), b.Chunks()[4].Offset + ChunkHeader.Size + 10);
        return Invalid("truncated-payload", "The input ends 10 bytes into the stop-copy DATA payload.", bytes, StreamErrorCode.TruncatedPayload, bytes.Length);
    }

    private static TestVector TruncatedStream()
    {
        var b = OneDeviceStream();
        var bytes = Mutate.Cut(b.Bytes(), b.Chunks()[^1].Offset);
        return Invalid("truncated-stream", "The input ends cleanly after DEVICE_END but without STREAM_END: a closed connection never ends a stream.", bytes, StreamErrorCode.TruncatedStream, bytes.Length);
    }

    private static TestVector LengthOverLimit()
    {
        var rng = new DeterministicRandom(8);
        var b = new VectorBuilder(maxPayload: 16384);
        b.Begin(1, "mtty-a", "mtty");
        b.Data(1, rng.Bytes(8192), DataPhase.PreCopy);
        b.End(1);
        b.EndStream();
        var bytes = Mutate.Preamble(b.Bytes(), p => BinaryPrimitives.WriteUInt32LittleEndian(p[Preamble.MaxPayloadOffset..], 4096));
        return Invalid("length-over-limit", "The preamble announces max_payload 4096 (CRC valid), then an 8192-byte DATA chunk follows: rejected from its header, before the payload is read.",
            bytes, StreamErrorCode.LengthOverLimit, b.Chunks()[1].Offset + ChunkHeader.WireLengthOffset);
    }

    private static TestVector SequenceGap()
    {
        var b = OneDeviceStream();
        var removed = b.Chunks()[2];
        var bytes = Mutate.Remove(b.Bytes(), removed);
        return Invalid("sequence-gap", "The pre-copy DATA chunk (sequence 2) is missing: on a single channel, sequence 3 arrives after 1.",
            bytes, StreamErrorCode.SequenceGap, b.Chunks()[3].Offset - removed.Length);
    }

    private static TestVector Duplicate()
    {
        var b = OneDeviceStream();
        var bytes = Mutate.Insert(b.Bytes(), b.Chunks()[3].Offset, Mutate.Slice(b.Bytes(), b.Chunks()[2]));
        return Invalid("duplicate-chunk", "The pre-copy DATA chunk (sequence 2) appears twice in a row.", bytes, StreamErrorCode.DuplicateChunk, b.Chunks()[3].Offset);
    }

    private static TestVector EpochRegression()
    {
        var b = DiscardStream();
        var stale = Mutate.Slice(b.Bytes(), b.Chunks()[5]); // device 1, epoch 0, sequence 3
        long at = b.Chunks()[7].Offset;                    // right after the DISCARD to epoch 1
        var bytes = Mutate.Insert(b.Bytes(), at, stale);
        return Invalid("epoch-regression", "After device 1's DISCARD to epoch 1, an epoch-0 DATA chunk of device 1 follows on the same channel.", bytes, StreamErrorCode.EpochRegression, at);
    }

    private static TestVector UnknownMandatory()
    {
        var b = OneDeviceStream();
        long at = b.Chunks()[2].Offset;
        var bytes = Mutate.Insert(b.Bytes(), at, Mutate.Chunk((ChunkType)0x1E, ChunkFlags.None, 0, 0, 0, 0, [1, 2, 3, 4]));
        return Invalid("unknown-mandatory", "A chunk of unknown type 0x1E without the OPTIONAL flag.", bytes, StreamErrorCode.UnknownMandatoryType, at + ChunkHeader.TypeOffset);
    }

    private static TestVector DigestMismatch()
    {
        var b = OneDeviceStream();
        var end = b.Chunks()[6];
        var bytes = Mutate.Payload(b.Bytes(), end, p => p[16] ^= 0x01); // data_crc32c; payload and header CRCs re-sealed
        return Invalid("digest-mismatch", "DEVICE_END's data_crc32c is off by one bit (payload and header CRCs valid).", bytes, StreamErrorCode.DeviceDigestMismatch, end.Offset);
    }

    private static TestVector Aborted()
    {
        var rng = new DeterministicRandom(9);
        var b = new VectorBuilder();
        b.Begin(1, "mtty-a", "mtty");
        b.Data(1, MttyHeader(), DataPhase.PreCopy);
        b.Data(1, rng.Bytes(30), DataPhase.StopCopy);
        b.Abort(StreamErrorCode.SourceDeviceFailed, "device 1 was reset in STOP_COPY");
        return Invalid("aborted", "The sender gives up with ABORT (SourceDeviceFailed) after a reset in STOP_COPY.", b.Bytes(), StreamErrorCode.PeerAborted, b.Chunks()[^1].Offset);
    }

    // ---- return path ----

    /// <summary>Stream id of every vector.</summary>
    private static Guid VectorStreamId => VectorBuilder.VectorStreamId;

    /// <summary>
    /// A receiver's return path with a 1 MiB receive window; chunk indices: 0 ACK, 1 WINDOW, 2 PADDING, 3 ACK, 4 ACK,
    /// 5 SWITCHOVER_ACK, 6 ACK, 7 WINDOW (consumed <paramref name="secondWindow"/>), 8 FINAL_ACK.
    /// </summary>
    private static (byte[] Bytes, long[] Offsets) ReturnPathStream(ulong secondWindow)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new ReturnPathWriter(output, VectorStreamId, StreamCapabilities.ReturnPath | StreamCapabilities.SwitchoverAck | StreamCapabilities.PrecopyHints,
            65536, 8, receiveWindow: 1 << 20);
        var offsets = new List<long>();
        offsets.Add(output.WrittenCount); w.WriteAck(1, 0, 4096);
        offsets.Add(output.WrittenCount); w.WriteWindow(4424);
        offsets.Add(output.WrittenCount); w.WritePadding();
        offsets.Add(output.WrittenCount); w.WriteAck(1, 1, 0);
        offsets.Add(output.WrittenCount); w.WriteAck(1, 1, 8192);
        offsets.Add(output.WrittenCount); w.WriteSwitchoverAck();
        offsets.Add(output.WrittenCount); w.WriteAck(1, 1, 12288);
        offsets.Add(output.WrittenCount); w.WriteWindow(secondWindow);
        offsets.Add(output.WrittenCount); w.WriteFinalAck(new FinalAckRecord(StreamErrorCode.None, 1, 12288));
        return (output.WrittenSpan.ToArray(), [.. offsets]);
    }

    private static TestVector ReturnPath()
    {
        var (bytes, _) = ReturnPathStream(20000);
        IReadOnlyList<string> lines =
        [
            "ACK dev=1 epoch=0 seq=0 off=4096 wire=0 raw=0 flags=0x00",
            "WINDOW dev=0 epoch=0 seq=0 off=0 wire=8 raw=8 flags=0x01",
            "PADDING dev=0 epoch=0 seq=0 off=0 wire=0 raw=0 flags=0x00",
            "ACK dev=1 epoch=1 seq=0 off=0 wire=0 raw=0 flags=0x00",
            "ACK dev=1 epoch=1 seq=0 off=8192 wire=0 raw=0 flags=0x00",
            "SWITCHOVER_ACK dev=0 epoch=0 seq=0 off=0 wire=0 raw=0 flags=0x00",
            "ACK dev=1 epoch=1 seq=0 off=12288 wire=0 raw=0 flags=0x00",
            "WINDOW dev=0 epoch=0 seq=0 off=0 wire=8 raw=8 flags=0x01",
            "FINAL_ACK dev=0 epoch=0 seq=0 off=0 wire=16 raw=16 flags=0x00",
        ];
        return new TestVector("return-path",
            "A receiver's return path: preamble role 1 with receive_window 1048576, ACKs (epoch 0, then epoch 1 after a DISCARD), WINDOW (consumed bytes), a PADDING keepalive, SWITCHOVER_ACK, FINAL_ACK.",
            [("return-path.bin", bytes)], new Dictionary<string, IReadOnlyList<string>> { ["return-path.bin"] = lines }, [], null, ReturnPathWindow: 1 << 20);
    }

    private static TestVector WindowRegression()
    {
        var (bytes, offsets) = ReturnPathStream(100); // below the 4424 reported before
        return new TestVector("window-regression", "On the return path, a WINDOW's consumed_bytes goes back from 4424 to 100.",
            [("window-regression.bin", bytes)], null, null,
            new ErrorExpectation(nameof(StreamErrorCode.OffsetMismatch), (uint)StreamErrorCode.OffsetMismatch, "window-regression.bin", offsets[7] + ChunkHeader.Size),
            ReturnPathWindow: 1 << 20);
    }

    // ---- helpers ----

    /// <summary>24-byte mtty image header: magic, major 1, minor 0, two ports, flags 0.</summary>
    private static byte[] MttyHeader()
    {
        var h = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(h, 0x7e9d09898c3e2c4e);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(16), 2);
        return h;
    }

    private static TestVector Valid(string name, string description, VectorBuilder b, params string[] files)
    {
        if (files.Length == 0) files = [name + ".bin"];
        var list = files.Select((f, i) => (f, b.Bytes(i))).ToList();
        var chunks = files.Select((f, i) => (f, (IReadOnlyList<string>)b.Chunks(i).Select(c => c.Line).ToList())).ToDictionary(x => x.f, x => x.Item2);
        return new TestVector(name, description, list, chunks, b.Devices, null);
    }

    private static TestVector Invalid(string name, string description, byte[] bytes, StreamErrorCode code, long offset) =>
        new(name, description, [(name + ".bin", bytes)], null, null, new ErrorExpectation(code.ToString(), (uint)code, name + ".bin", offset));
}
