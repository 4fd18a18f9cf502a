using System.Buffers;
using System.Globalization;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// Generates malformed StreamKit streams for robustness testing of receivers and senders. Each case
/// starts from a valid stream written by <see cref="ChunkWriter"/> (1-3 channels, several devices
/// spread over the channels, discards, LZ4, zero runs, config, pre-copy hints, padding, unknown
/// optional chunks), then <see cref="StreamMutator"/> damages it with field-aware mutations, usually
/// resealing the CRCs so the fault reaches the deeper layers. A case is a pure function of
/// (seed, iteration) and the options (and of the installed liblz4, which only shapes LZ4 payloads).
/// <code>
/// var generator = new MalformedStreamGenerator();
/// for (long i = 0; i &lt; 1000; i++)
/// {
///     var c = generator.Generate(seed: 42, iteration: i);
///     Send(c.Channels);   // one connection per channel; log c.Description with any surprise
/// }
/// </code>
/// </summary>
public sealed class MalformedStreamGenerator
{
    private static readonly string[] Names = ["0000:65:00.1", "mtty", "vfio-pci", "nic0", "gpu", "Geräte-Ω", "设备", "dev\u00A0x", ""];
    private readonly MalformedStreamOptions _options;
    private readonly StreamMutator _mutator;

    /// <summary>The stream id of every generated return path (a sender's validator checks against it).</summary>
    public static Guid ReturnPathStreamId { get; } = new("5354524d-4b49-5400-8000-00000000f022");

    /// <summary>Creates a generator (defaults if <paramref name="options"/> is null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public MalformedStreamGenerator(MalformedStreamOptions? options = null)
    {
        _options = options ?? new MalformedStreamOptions();
        _options.Validate();
        _mutator = new StreamMutator(_options);
    }

    /// <summary>
    /// The forward (sender → receiver) case for (<paramref name="seed"/>, <paramref name="iteration"/>):
    /// usually mutated, valid in <see cref="MalformedStreamOptions.ValidPercent"/> percent of iterations.
    /// </summary>
    public MalformedCase Generate(ulong seed, long iteration, MutationFocus focus = MutationFocus.Any)
    {
        var (channels, baseline) = BuildForward(FuzzRandom.For(seed, iteration, salt: 1));
        var rng = FuzzRandom.For(seed, iteration, salt: 2);
        if (rng.Chance(_options.ValidPercent))
            return new MalformedCase(seed, iteration, PreambleRole.Forward, channels, baseline, [], crcsResealed: true);
        byte[][]? donor = rng.Chance(30) ? BuildForward(FuzzRandom.For(seed, iteration, salt: 3)).Channels : null;
        var (mutated, log, resealed) = _mutator.Apply(channels, rng, focus, donor);
        return new MalformedCase(seed, iteration, PreambleRole.Forward, mutated, baseline, log, resealed);
    }

    /// <summary>The valid forward stream that <see cref="Generate"/> starts from for the same (seed, iteration).</summary>
    public MalformedCase GenerateValid(ulong seed, long iteration)
    {
        var (channels, baseline) = BuildForward(FuzzRandom.For(seed, iteration, salt: 1));
        return new MalformedCase(seed, iteration, PreambleRole.Forward, channels, baseline, [], crcsResealed: true);
    }

    /// <summary>
    /// A return path (receiver → sender: ACK, SWITCHOVER_ACK, FINAL_ACK / ERROR) for
    /// <see cref="ReturnPathStreamId"/>, mutated like forward streams.
    /// </summary>
    public MalformedCase GenerateReturnPath(ulong seed, long iteration, MutationFocus focus = MutationFocus.Any)
    {
        var (channel, baseline) = BuildReturnPath(FuzzRandom.For(seed, iteration, salt: 4));
        var rng = FuzzRandom.For(seed, iteration, salt: 5);
        if (rng.Chance(_options.ValidPercent))
            return new MalformedCase(seed, iteration, PreambleRole.ReturnPath, [channel], baseline, [], crcsResealed: true);
        var (mutated, log, resealed) = _mutator.Apply([channel], rng, focus, donor: null);
        return new MalformedCase(seed, iteration, PreambleRole.ReturnPath, mutated, baseline, log, resealed);
    }

    private (byte[][] Channels, string Baseline) BuildForward(FuzzRandom rng)
    {
        int channelCount = Math.Min(_options.MaxChannels, 1 + rng.Weighted([50, 30, 20]));
        bool lz4 = _options.UseLz4 && Lz4Codec.IsAvailable && rng.Chance(40);
        var caps = StreamCapabilities.None;
        if (rng.Chance(70)) caps |= StreamCapabilities.PrecopyHints;
        if (rng.Chance(30)) caps |= StreamCapabilities.ReturnPath;
        if ((caps & StreamCapabilities.ReturnPath) != 0 && rng.Chance(50)) caps |= StreamCapabilities.SwitchoverAck;
        uint maxPayload = Math.Clamp(rng.Pick(new[] { WireLimits.MinMaxPayload, 8192u, _options.MaxPayload }), WireLimits.MinMaxPayload, _options.MaxPayload);
        int chunkSize = rng.Chance(30) ? rng.Between(64, 512) : rng.Between(512, (int)Math.Min(maxPayload, 8192));
        int deviceCount = rng.Between(1, _options.MaxDevices);
        var ids = new List<ushort>();
        while (ids.Count < deviceCount)
        {
            ushort id = rng.Chance(80) ? (ushort)rng.Between(1, 8) : (ushort)rng.Between(1, ushort.MaxValue);
            if (!ids.Contains(id)) ids.Add(id);
        }
        Span<byte> guid = stackalloc byte[16];
        rng.Fill(guid);
        var options = new ChunkWriterOptions
        {
            StreamId = new Guid(guid),
            MaxPayload = maxPayload,
            ChunkSize = chunkSize,
            MaxDevices = (uint)(deviceCount + rng.Between(0, 4)),
            Compress = lz4,
            DetectZeroRuns = rng.Chance(80),
            Capabilities = caps,
        };
        var outputs = new ArrayBufferWriter<byte>[channelCount];
        for (int i = 0; i < outputs.Length; i++) outputs[i] = new ArrayBufferWriter<byte>(4096);
        var writers = ChunkWriter.CreateChannels(options, outputs);

        var plans = ids.Select(id => new Queue<Action<ChunkWriter>>(PlanDevice(rng, id, options, out _))).ToList();
        var summaries = new List<string>();
        for (int d = 0; d < ids.Count; d++) summaries.Add(string.Create(CultureInfo.InvariantCulture, $"{ids[d]} ({plans[d].Count} steps)"));
        while (plans.Any(p => p.Count > 0))
        {
            var open = plans.Where(p => p.Count > 0).ToList();
            open[rng.Next(open.Count)].Dequeue()(writers[rng.Next(writers.Length)]);
            if (rng.Chance(4)) writers[rng.Next(writers.Length)].WritePadding(rng.Between(0, 64));
            if (rng.Chance(3)) writers[rng.Next(writers.Length)].WriteOpaque((ChunkType)0x1D, ChunkFlags.Optional, 0, rng.Bytes(rng.Between(0, 32)));
        }
        foreach (var writer in writers) writer.EndStream();

        string baseline = string.Create(CultureInfo.InvariantCulture,
            $"{channelCount} channel(s), {(lz4 ? "LZ4, " : "")}capabilities 0x{(uint)caps:X8}, max_payload {maxPayload}, chunks of {chunkSize} B, devices {string.Join(", ", summaries)}");
        return (outputs.Select(o => o.WrittenSpan.ToArray()).ToArray(), baseline);
    }

    /// <summary>One device's life as writer steps, each on whichever channel the caller picks.</summary>
    private List<Action<ChunkWriter>> PlanDevice(FuzzRandom rng, ushort id, ChunkWriterOptions options, out int epochs)
    {
        var steps = new List<Action<ChunkWriter>>();
        var record = new DeviceBeginRecord(rng.Pick(new ulong[] { 1, 5, 7 }),
            rng.Chance(30) ? DeviceBeginRecord.UnknownEstimate : (ulong)rng.Between(0, 1 << 20), rng.Pick(Names), rng.Pick(Names));
        steps.Add(w => w.BeginDevice(id, record));
        bool hints = (options.Capabilities & StreamCapabilities.PrecopyHints) != 0;
        epochs = rng.Chance(25) ? rng.Between(2, 3) : 1;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            bool last = epoch == epochs - 1;
            int budget = rng.Between(0, _options.MaxDeviceBytes);
            int preCopyPieces = rng.Between(0, 3);
            for (int i = 0; i < preCopyPieces; i++) steps.Add(DataStep(rng, id, budget / Math.Max(1, preCopyPieces + 1), DataPhase.PreCopy, options));
            if (hints && rng.Chance(50))
            {
                var info = new PrecopyInfoRecord(last && rng.Chance(50) ? 0 : (ulong)rng.Between(0, 100000), (ulong)rng.Between(0, 4096));
                steps.Add(w => w.WritePrecopyInfo(id, info));
            }
            if (rng.Chance(35)) steps.Add(ConfigStep(rng, id));
            if (rng.Chance(10)) { byte[] opaque = rng.Bytes(rng.Between(0, 24)); steps.Add(w => w.WriteOpaque((ChunkType)0x1C, ChunkFlags.Optional, id, opaque)); }
            if (!last)
            {
                var reason = rng.Chance(80) ? DiscardReason.SourceDeviceReset : DiscardReason.SourceSessionEnded;
                steps.Add(w => w.Discard(id, reason));
                continue;
            }
            int stopCopyPieces = rng.Between(0, 3);
            for (int i = 0; i < stopCopyPieces; i++) steps.Add(DataStep(rng, id, budget / Math.Max(1, stopCopyPieces + 1), DataPhase.StopCopy, options));
            if (rng.Chance(40)) steps.Add(ConfigStep(rng, id));
            steps.Add(w => w.EndDevice(id));
        }
        return steps;
    }

    private static Action<ChunkWriter> DataStep(FuzzRandom rng, ushort id, int size, DataPhase phase, ChunkWriterOptions options)
    {
        size = Math.Max(1, size);
        switch (rng.Weighted([35, 30, 12, 10, 13]))
        {
            case 0: { var data = rng.Bytes(size); return w => w.WriteData(id, data, phase); }
            case 1: { var data = rng.Text(size); return w => w.WriteData(id, data, phase); }
            case 2: { var data = new byte[size]; return w => w.WriteData(id, data, phase); }
            case 3: { uint run = (uint)Math.Min(size, (int)options.MaxPayload); return w => w.WriteZeroRun(id, run, phase); }
            default:
            {
                var data = rng.Bytes(size);
                data.AsSpan(0, size / 2).Clear(); // a zero page followed by data: zero-run detection per chunk
                return w => w.WriteData(id, data, phase);
            }
        }
    }

    private static Action<ChunkWriter> ConfigStep(FuzzRandom rng, ushort id)
    {
        var config = rng.Chance(50) ? rng.Text(rng.Between(1, 600)) : rng.Bytes(rng.Between(1, 300));
        return w => w.WriteConfig(id, config);
    }

    private static (byte[] Channel, string Baseline) BuildReturnPath(FuzzRandom rng)
    {
        var output = new ArrayBufferWriter<byte>(1024);
        var caps = rng.Chance(50) ? StreamCapabilities.ReturnPath : StreamCapabilities.ReturnPath | StreamCapabilities.SwitchoverAck | StreamCapabilities.Lz4;
        var writer = new ReturnPathWriter(output, ReturnPathStreamId, caps, rng.Pick(new[] { WireLimits.MinMaxPayload, WireLimits.DefaultMaxPayload }));
        int devices = rng.Between(1, 3);
        var acked = new (uint Epoch, ulong Offset)[devices];
        int steps = rng.Between(0, 12);
        int acks = 0, switchovers = 0;
        for (int i = 0; i < steps; i++)
        {
            if (rng.Chance(15))
            {
                writer.WriteSwitchoverAck();
                switchovers++;
                continue;
            }
            if (rng.Chance(5))
            {
                // An unknown optional return-path type: skipped by senders.
                var payload = rng.Bytes(rng.Between(0, 16));
                var chunk = new byte[ChunkHeader.Size + payload.Length];
                payload.CopyTo(chunk, ChunkHeader.Size);
                new ChunkHeader((ChunkType)0x3E, ChunkFlags.Optional, 0, 0, 0, 0, (uint)payload.Length, (uint)payload.Length,
                    payload.Length == 0 ? 0 : Crc32C.Compute(payload)).Encode(chunk);
                output.Write(chunk);
                continue;
            }
            int d = rng.Next(devices);
            if (rng.Chance(15)) acked[d] = (acked[d].Epoch + 1, 0);
            acked[d].Offset += (ulong)rng.Between(0, 1 << 20);
            writer.WriteAck((ushort)(d + 1), acked[d].Epoch, acked[d].Offset);
            acks++;
        }
        string end;
        if (rng.Chance(60))
        {
            writer.WriteFinalAck(new FinalAckRecord(StreamErrorCode.None, (uint)devices, (ulong)rng.Between(0, 1 << 24)));
            end = "FINAL_ACK";
        }
        else
        {
            var code = rng.Pick(new[] { StreamErrorCode.DeviceRejected, StreamErrorCode.PayloadChecksumMismatch, StreamErrorCode.Timeout, StreamErrorCode.SequenceGap });
            writer.WriteError(code, rng.Chance(50) ? $"device {rng.Between(1, devices)} refused the state" : new string('x', rng.Between(0, 1100)));
            end = $"ERROR {code}";
        }
        return (output.WrittenSpan.ToArray(), string.Create(CultureInfo.InvariantCulture,
            $"return path: {devices} device(s), {acks} ACK(s), {switchovers} SWITCHOVER_ACK(s), ends with {end}"));
    }
}
