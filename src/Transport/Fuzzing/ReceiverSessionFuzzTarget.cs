using System.Buffers;
using System.Globalization;
using StreamKit.Device;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// A whole receive as a live receiver runs it: the input (1-4 channels packed as <see cref="FuzzInput"/>
/// says) is sent over in-process <see cref="MemoryConnection"/>s, cut into the input's segments, into a
/// <see cref="ReceiverSession"/> (preamble handshake and grouping, channel loops, reassembly, device
/// writer threads, return path, commit, failure rule) whose destinations are two simulated devices
/// (an mtty and a hisi, both blank). Inputs are mutations of a real saved stream of the matching
/// sources, so they reach the devices, plus the generic malformed streams.
/// Invariants on every input:
/// <list type="bullet">
/// <item>only <see cref="MigrationException"/> escapes, with a code, a reason, and never the catch-all
/// "internal error" (an unexpected exception type inside the session);</item>
/// <item>the session returns within <see cref="CallBound"/>: a run cancelled by the bound is a finding
/// (a hang), whatever the speed of the machine otherwise;</item>
/// <item>accepted: every destination holds exactly the sources' state and runs; failed: every
/// destination runs with the state it had (the failure rule);</item>
/// <item>every byte written into a device lies inside a chunk whose payload matches its CRC by an
/// independent bitwise CRC32C (no unverified byte reaches a device);</item>
/// <item>the process allocated no more than the receiver's configured limits allow (pools sized by the
/// reassembly cap, the payload limit and the channel count, plus the input and a constant).</item>
/// </list>
/// </summary>
internal sealed class ReceiverSessionFuzzTarget : IFuzzTarget
{
    public static string Name => "receiver-session";

    internal const string MttySpec = "sim:profile=mtty,seed=7";
    internal const string HisiSpec = "sim:profile=hisi,size=64KiB,seed=8";

    /// <summary>
    /// A receive still running after this is cancelled; when the same input runs over it again it is
    /// reported (a loaded machine can stall one run; a hang repeats). Twice this stays under the
    /// runner's 10 s watchdog.
    /// </summary>
    internal static readonly TimeSpan CallBound = TimeSpan.FromSeconds(4);

    internal static readonly ReceiverOptions Options = new()
    {
        ReassemblyCap = 1 << 20,
        MaxPayload = 64 * 1024,
        Transport = new TransportOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(2),
            ChannelGroupTimeout = TimeSpan.FromSeconds(2),
            IdleReceiveTimeout = TimeSpan.FromSeconds(2),
            SendTimeout = TimeSpan.FromSeconds(2),
        },
    };

    /// <summary>Process-wide allocation is measured, so other threads' work can add to it: an excess must repeat this often.</summary>
    private const int AllocationAttempts = 3;

    private static readonly Lazy<(byte[] Stream, ulong MttyDigest, ulong HisiDigest)> Base = new(SaveBase);
    private static readonly StreamMutator Mutator = new();

    /// <summary>The valid saved stream of the two sources (the mutations' starting point; the corpus holds it too).</summary>
    internal static byte[] ValidStream => Base.Value.Stream;

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var bundle = FuzzInput.Unpack(input);
        var verified = VerifiedPayloads.Scan(bundle.Channels);
        long bound = AllocationBound(bundle.Channels);
        long allocated = 0;
        for (int attempt = 0, timeouts = 0; attempt < AllocationAttempts; attempt++)
        {
            try
            {
                allocated = RunOnce(bundle, verified);
            }
            catch (TimedOut) when (++timeouts < 2)
            {
                attempt--;
                continue;
            }
            catch (TimedOut e)
            {
                throw new FuzzInvariantException(Name, $"the receive did not finish within {CallBound.TotalSeconds:0} s, twice, and was cancelled ({e.Message})", e);
            }
            if (allocated <= bound) return;
        }
        if (!AllocationMeter.Suspended)
            throw new FuzzInvariantException(Name, $"a receive allocated {allocated} bytes (measured {AllocationAttempts} times); the bound derived from the limits is {bound}");
    }

    /// <summary>The receiver's buffer budget (sized by the cap, the payload limit and the channels) + the input + a constant.</summary>
    private static long AllocationBound(byte[][] channels)
    {
        long maxChunk = ChunkHeader.Size + (long)Options.MaxPayload;
        long pool = ReceiverSession.BufferBudget(Options.ReassemblyCap, maxChunk, channels.Length).Total;
        long input = channels.Sum(c => (long)c.Length);
        return pool + 8 * input + (16L << 20);
    }

    /// <summary>One receive with every invariant but the allocation bound checked; returns the bytes the process allocated.</summary>
    private static long RunOnce(FuzzInput.Bundle bundle, VerifiedPayloads verified)
    {
        var (_, mttyDigest, hisiDigest) = Base.Value;
        using var mtty = new WriteRecordingDevice(SimulatedDevice.Create(MttySpec + ",state=blank"));
        using var hisi = new WriteRecordingDevice(SimulatedDevice.Create(HisiSpec + ",state=blank"));
        (WriteRecordingDevice Device, ulong Before, ulong Source)[] destinations =
            [(mtty, mtty.Inner.StateDigest, mttyDigest), (hisi, hisi.Inner.StateDigest, hisiDigest)];

        long before = GC.GetTotalAllocatedBytes(precise: false);
        var (result, error, timedOut) = Receive(bundle, mtty, hisi);
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - before;

        if (error is not null)
        {
            if (error is not MigrationException m)
                throw new FuzzInvariantException(Name, $"{error.GetType().Name} escaped the receiver (only MigrationException may): {error.Message}", error);
            if (timedOut) throw new TimedOut(m.Reason);
            if (m.Code is StreamErrorCode.None || string.IsNullOrWhiteSpace(m.Reason))
                throw new FuzzInvariantException(Name, $"a failure without a code or reason: {m.Code} \"{m.Reason}\"", m);
            if (m.Code == StreamErrorCode.Cancelled)
                throw new FuzzInvariantException(Name, $"an unexpected exception inside the session (reported as {m.Code}): {m.Reason}", m);
        }
        foreach (var (device, digestBefore, sourceDigest) in destinations)
        {
            var state = device.GetState();
            if (state != MigrationState.Running)
                throw new FuzzInvariantException(Name, $"{device.Name} ends {state}, not RUNNING ({(error is null ? "accepted" : error.Message)})");
            // A failed receive leaves each destination with its previous state, or with the source's whole state
            // when that device had committed (its DEVICE_END digest and its own commit check passed) before
            // another device or channel failed: the reset cannot undo a completed load. Never anything else.
            ulong digest = device.Inner.StateDigest;
            if (error is null ? digest != sourceDigest : digest != digestBefore && digest != sourceDigest)
                throw new FuzzInvariantException(Name, error is null
                    ? $"the stream was accepted but {device.Name} does not hold the source's state"
                    : $"the receive failed ({error.Message}) but {device.Name} holds neither its previous state nor the source's");
            foreach (var write in device.Writes)
            {
                if (!verified.Covers(write))
                    throw new FuzzInvariantException(Name, string.Create(CultureInfo.InvariantCulture,
                        $"{device.Name} was given {write.Length} bytes that no CRC-verified chunk of the input carries ({(error is null ? "accepted" : error.Message)})"));
            }
        }
        if (result is not null && result.Devices.Count != destinations.Length)
            throw FuzzChecks.Mismatch(Name, "devices in the result", destinations.Length, result.Devices.Count);
        return allocated;
    }

    private static (MigrationResult? Result, Exception? Error, bool TimedOut) Receive(FuzzInput.Bundle bundle, IMigrationDevice mtty, IMigrationDevice hisi)
    {
        using var bound = new CancellationTokenSource(CallBound);
        return Task.Run(async () =>
        {
            var channels = bundle.Channels;
            var pairs = new (MemoryConnection Send, MemoryConnection Receive)[channels.Length];
            for (int i = 0; i < channels.Length; i++)
                pairs[i] = MemoryConnection.CreatePair($"fuzz{i}", bufferBytes: Math.Max(64 * 1024, 2L * channels[i].Length + 64 * 1024));
            var feeders = new Task[channels.Length];
            MigrationResult? result = null;
            Exception? error = null;
            await using (var receiver = new MigrationReceiver(Options))
            {
                receiver.AddDevice(1, mtty);
                receiver.AddDevice(2, hisi);
                receiver.Session.ListenOn(new MemoryListener([.. pairs.Select(p => (TransportConnection)p.Receive)], Options.Transport));
                for (int i = 0; i < channels.Length; i++)
                    feeders[i] = FeedAsync(pairs[i].Send, channels[i], bundle.SegmentMode, bundle.Seed + (ulong)i * 0x9E37, bound.Token);
                try
                {
                    result = await receiver.RunAsync(bound.Token).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    error = e;
                }
            }
            foreach (var (send, receive) in pairs)
            {
                send.Abort("the fuzz input is over");
                await receive.DisposeAsync().ConfigureAwait(false);
            }
            await Task.WhenAll(feeders).ConfigureAwait(false);
            foreach (var (send, _) in pairs) await send.DisposeAsync().ConfigureAwait(false);
            return (result, error, bound.IsCancellationRequested);
        }).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Sends <paramref name="data"/> cut as the input says, then ends the channel; the receiver closing it early is fine.
    /// Only the first <see cref="CutSegments"/> cuts are kept (they fall in the preamble and the first headers, where
    /// arrival boundaries matter); the rest goes in one send, so a byte-by-byte mode does not cost a flush per byte.
    /// </summary>
    private static async Task FeedAsync(MemoryConnection connection, byte[] data, int mode, ulong seed, CancellationToken cancellationToken)
    {
        try
        {
            int sent = 0, cuts = 0;
            foreach (var segment in FuzzInput.Segment(data, mode, seed, []))
            {
                if (++cuts > CutSegments) break;
                await connection.SendAsync(segment, cancellationToken).ConfigureAwait(false);
                sent += segment.Length;
            }
            if (sent < data.Length) await connection.SendAsync(data.AsMemory(sent), cancellationToken).ConfigureAwait(false);
            await connection.CompleteSendAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TransportException or OperationCanceledException or InvalidOperationException)
        {
            // The receiver refused or aborted the channel.
        }
    }

    private const int CutSegments = 48;

    public static byte[] Generate(ulong seed, long iteration)
    {
        var rng = FuzzRandom.For(seed, iteration, 23);
        byte[][] channels;
        int pick = rng.Next(100);
        if (pick < 5) channels = [Base.Value.Stream];
        else if (pick < 80) channels = [.. Mutator.Mutate([Base.Value.Stream], seed, iteration).Channels];
        else channels = [.. Generators.Forward.Generate(seed, iteration).Channels];
        return FuzzInput.Pack(channels, rng.Next(FuzzInput.SegmentModes), rng.Next(FuzzInput.InterleaveModes), (byte)rng.Next(256));
    }

    /// <summary>
    /// The valid stream the mutations start from: the two sources (matching the destinations) saved by a
    /// real <see cref="MigrationSender"/> into a file, 8 KiB chunks so there are many to mutate.
    /// </summary>
    private static (byte[], ulong, ulong) SaveBase()
    {
        string path = Path.Combine(Path.GetTempPath(), $"streamkit-fuzz-base-{Environment.ProcessId}-{Guid.NewGuid():N}.skm");
        try
        {
            using var mtty = SimulatedDevice.Create(MttySpec);
            using var hisi = SimulatedDevice.Create(HisiSpec);
            ulong mttyDigest = mtty.StateDigest, hisiDigest = hisi.StateDigest;
            Task.Run(async () =>
            {
                await using var sender = new MigrationSender(new SenderOptions { ChunkSize = 8 * 1024 });
                sender.AddDevice(1, mtty);
                sender.AddDevice(2, hisi);
                await sender.RunAsync(TransportAddress.File(path)).ConfigureAwait(false);
            }).GetAwaiter().GetResult();
            return (File.ReadAllBytes(path), mttyDigest, hisiDigest);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class TimedOut(string reason) : Exception(reason);

    /// <summary>The decoded payloads of the input's chunks whose payload passes a bitwise CRC32C check.</summary>
    internal sealed class VerifiedPayloads
    {
        private readonly List<byte[]> _payloads = [];
        private long _longestZeroRun;

        internal static VerifiedPayloads Scan(byte[][] channels)
        {
            var verified = new VerifiedPayloads();
            var readerOptions = new ChunkReaderOptions { MaxPayload = Options.MaxPayload };
            foreach (var channel in channels)
            {
                var reader = new ChunkReader(readerOptions);
                var buffer = new ReadOnlySequence<byte>(channel);
                try
                {
                    while (reader.TryReadChunk(ref buffer, out var chunk)) verified.Add(chunk);
                }
                catch (StreamFormatException)
                {
                    // The session's channel loop meets the same error; nothing after it is delivered.
                }
            }
            return verified;
        }

        private void Add(in Chunk chunk)
        {
            var h = chunk.Header;
            if (!chunk.IsKnownType) return;
            byte[] wire = chunk.Payload.ToArray();
            if ((wire.Length == 0 ? 0 : ReferenceCrc32C.Append(0, wire)) != h.PayloadCrc) return;
            switch (h.Type)
            {
                case ChunkType.ZeroRun:
                    _longestZeroRun = Math.Max(_longestZeroRun, h.RawLength);
                    break;
                case ChunkType.Data or ChunkType.Config when h.Codec == PayloadCodec.Stored:
                    _payloads.Add(wire);
                    break;
                case ChunkType.Data or ChunkType.Config when Lz4Codec.IsAvailable && h.RawLength <= Options.MaxPayload:
                    var raw = new byte[h.RawLength];
                    if (Lz4Codec.Decompress(wire, raw) == raw.Length) _payloads.Add(raw); // not decodable: the session refuses it too
                    break;
            }
        }

        /// <summary>True when <paramref name="write"/> is a run of zeros no longer than a verified ZERO_RUN, or lies inside a verified payload.</summary>
        internal bool Covers(byte[] write)
        {
            if (write.Length == 0) return true;
            if (!write.AsSpan().ContainsAnyExcept((byte)0) && write.Length <= _longestZeroRun) return true;
            foreach (var p in _payloads)
                if (p.Length >= write.Length && p.AsSpan().IndexOf(write) >= 0) return true;
            return false;
        }
    }
}
