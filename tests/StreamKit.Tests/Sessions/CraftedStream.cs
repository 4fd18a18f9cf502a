using System.Buffers;
using System.Net.Sockets;
using StreamKit.Device;
using StreamKit.Tests.Device;
using StreamKit.Transport;
using StreamKit.Wire;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// Devices' stop-copy migrations written chunk by chunk onto N channels with <see cref="ChunkWriter"/>
/// (the channel of every chunk chosen by the test; with several devices their chunks alternate), and a
/// receiver fed those channels piece by piece, over in-process connections or real loopback TCP sockets
/// (whose channel loops receive blocking on their own threads), so a test decides exactly what the receiver
/// has seen when: which chunks arrive early, which channel is ahead, where a corrupted payload sits.
/// </summary>
internal sealed class CraftedStream
{
    private readonly List<Piece> _pieces;

    private CraftedStream(byte[][] channels, List<Piece> pieces)
    {
        Channels = channels;
        _pieces = pieces;
    }

    /// <summary>
    /// Where one chunk lies: its channel and byte range there; <paramref name="Device"/> is the index in the
    /// devices given to <see cref="Build(IReadOnlyList{ValueTuple{SimulatedDevice, IMigrationDevice}}, int, int, Func{int, int, int})"/>,
    /// <paramref name="Chunk"/> its place in that device's chunks (DEVICE_BEGIN 0, DEVICE_END the last).
    /// </summary>
    public readonly record struct Piece(int Channel, int Start, int End, int Device = 0, int Chunk = 0);

    public byte[][] Channels { get; }
    public IReadOnlyList<Piece> Pieces => _pieces;

    /// <summary>Device chunks of the stream (DEVICE_BEGIN, the DATA chunks, DEVICE_END).</summary>
    public int DeviceChunks => Pieces.Count;

    /// <summary>
    /// The whole state of <paramref name="source"/> (saved by STOP_COPY, the source ends in STOP) as DEVICE_BEGIN,
    /// DATA chunks of <paramref name="chunkSize"/> bytes and DEVICE_END for device 1, chunk i on channel <paramref name="channelOf"/>(i).
    /// </summary>
    public static CraftedStream Build(SimulatedDevice source, IMigrationDevice destination, int channels, int chunkSize, Func<int, int> channelOf) =>
        Build([(source, destination)], channels, chunkSize, (_, chunk) => channelOf(chunk));

    /// <summary>
    /// The whole states of several devices (ids 1, 2, ...) the same way, their chunks alternating (device 0's
    /// first, device 1's first, device 0's second, ...; a device whose chunks ran out is skipped); chunk c of
    /// device d on channel <paramref name="channelOf"/>(d, c). With <paramref name="voided"/> &gt; 0 every device
    /// first sends that many PRE_COPY DATA chunks (the start of its state) in epoch 0, then a DISCARD (a source
    /// reset: chunk <paramref name="voided"/> + 1), and its whole state in epoch 1.
    /// </summary>
    public static CraftedStream Build(IReadOnlyList<(SimulatedDevice Source, IMigrationDevice Destination)> devices, int channels, int chunkSize, Func<int, int, int> channelOf, int voided = 0)
    {
        byte[][] states = [.. devices.Select(d => SimMigration.Save(d.Source, readSize: 64 * 1024, precopy: false).Stream)];
        var outputs = Enumerable.Range(0, channels).Select(_ => new ArrayBufferWriter<byte>()).ToArray();
        var writers = ChunkWriter.CreateChannels(new ChunkWriterOptions { MaxPayload = (uint)chunkSize, ChunkSize = chunkSize, DetectZeroRuns = false }, outputs);
        var pieces = new List<Piece>();
        int[] written = new int[devices.Count];
        int dataChunks(int d) => (states[d].Length + chunkSize - 1) / chunkSize;
        for (bool any = true; any;)
        {
            any = false;
            for (int d = 0; d < devices.Count; d++)
            {
                int chunk = written[d];
                int epoch0 = voided == 0 ? 0 : voided + 1; // chunks before the state's epoch (after DEVICE_BEGIN)
                if (chunk > epoch0 + dataChunks(d) + 1) continue;
                any = true;
                ushort id = (ushort)(d + 1);
                int channel = channelOf(d, chunk);
                int start = outputs[channel].WrittenCount;
                var writer = writers[channel];
                if (chunk == 0)
                    writer.BeginDevice(id, new DeviceBeginRecord((ulong)MigrationFeatures.StopCopy, (ulong)states[d].Length, devices[d].Destination.Name, devices[d].Destination.DriverHint));
                else if (chunk <= voided)
                    writer.WriteData(id, states[d].AsSpan((chunk - 1) * chunkSize, chunkSize), DataPhase.PreCopy);
                else if (chunk == epoch0)
                    writer.Discard(id, DiscardReason.SourceDeviceReset);
                else if (chunk - epoch0 <= dataChunks(d))
                {
                    int at = (chunk - epoch0 - 1) * chunkSize;
                    writer.WriteData(id, states[d].AsSpan(at, Math.Min(chunkSize, states[d].Length - at)), DataPhase.StopCopy);
                }
                else
                    writer.EndDevice(id);
                pieces.Add(new Piece(channel, start, outputs[channel].WrittenCount, d, chunk));
                written[d]++;
            }
        }
        foreach (var writer in writers) writer.EndStream();
        return new CraftedStream(outputs.Select(o => o.WrittenSpan.ToArray()).ToArray(), pieces);
    }

    /// <summary>Piece <paramref name="chunk"/> of device index <paramref name="device"/>.</summary>
    public int IndexOf(int device, int chunk) => Pieces.ToList().FindIndex(p => p.Device == device && p.Chunk == chunk);

    /// <summary>
    /// Swaps two pieces that follow each other on one channel (of different devices: each device's chunks stay
    /// in order on every channel, as the format requires). The channel's STREAM_END totals do not change.
    /// </summary>
    public void SwapAdjacent(int first, int second)
    {
        var (a, b) = (_pieces[first], _pieces[second]);
        if (a.Channel != b.Channel || a.End != b.Start || a.Device == b.Device) throw new ArgumentException("not adjacent pieces of two devices on one channel");
        var bytes = Channels[a.Channel];
        byte[] aBytes = bytes[a.Start..a.End], bBytes = bytes[b.Start..b.End];
        bBytes.CopyTo(bytes, a.Start);
        aBytes.CopyTo(bytes, a.Start + bBytes.Length);
        _pieces[second] = b with { Start = a.Start, End = a.Start + bBytes.Length };
        _pieces[first] = a with { Start = a.Start + bBytes.Length, End = b.End };
    }

    /// <summary>The device bytes DATA piece <paramref name="piece"/> carries (payload of a stored chunk).</summary>
    public ReadOnlySpan<byte> Payload(int piece)
    {
        var p = Pieces[piece];
        return Channels[p.Channel].AsSpan(p.Start + ChunkHeader.Size, p.End - p.Start - ChunkHeader.Size);
    }

    /// <summary>
    /// Receiver options for crafted streams: payloads up to <paramref name="maxPayload"/>, a reassembly cap, the
    /// early-chunk hold bound (default when null), timeouts that a loaded test machine does not reach.
    /// </summary>
    public static ReceiverOptions Options(int maxPayload, long cap = 64L << 20, TimeSpan? hold = null) => new()
    {
        ReassemblyCap = cap,
        MaxPayload = (uint)maxPayload,
        EarlyChunkHold = hold ?? ReceiverOptions.DefaultEarlyChunkHold,
        Transport = new TransportOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(30),
            ChannelGroupTimeout = TimeSpan.FromSeconds(30),
            IdleReceiveTimeout = TimeSpan.FromSeconds(30),
            SendTimeout = TimeSpan.FromSeconds(30),
        },
    };

    /// <summary>A new stream's bytes of an ABORT chunk (stream-scoped: it may follow any chunk on any channel).</summary>
    public static byte[] AbortChunk(StreamErrorCode reason, string text)
    {
        var output = new ArrayBufferWriter<byte>();
        new ChunkWriter(output, new ChunkWriterOptions()).Abort(reason, text);
        return output.WrittenSpan[Preamble.Size..].ToArray();
    }

    /// <summary>
    /// A receiver of the stream's devices (ids 1, 2, ...), on in-process connections or on real loopback TCP
    /// sockets (<see cref="ConnectTcpAsync"/>); the test sends each channel's bytes when it chooses.
    /// </summary>
    public sealed class Feed : IAsyncDisposable
    {
        private readonly (MemoryConnection Send, MemoryConnection Receive)[] _pairs = [];
        private Socket[] _sockets = [];
        private readonly byte[][] _channels;
        private readonly int[] _sent;

        /// <summary>One device on in-process connections.</summary>
        public Feed(CraftedStream stream, IMigrationDevice destination, ReceiverOptions options)
            : this(stream, [destination], options)
        {
            _pairs = _channels.Select((c, i) => MemoryConnection.CreatePair($"crafted{i}", bufferBytes: c.Length + (1 << 20))).ToArray();
            Receiver.Session.ListenOn(new MemoryListener([.. _pairs.Select(p => (TransportConnection)p.Receive)], options.Transport));
        }

        private Feed(CraftedStream stream, IReadOnlyList<IMigrationDevice> destinations, ReceiverOptions options)
        {
            _channels = stream.Channels;
            _sent = new int[_channels.Length];
            Receiver = new MigrationReceiver(options);
            for (int d = 0; d < destinations.Count; d++) Receiver.AddDevice((ushort)(d + 1), destinations[d]);
        }

        /// <summary>
        /// The devices on a receiver listening on loopback TCP, one connected socket per channel (its loops
        /// receive blocking on their own threads, as in production).
        /// </summary>
        public static async Task<Feed> ConnectTcpAsync(CraftedStream stream, IReadOnlyList<IMigrationDevice> destinations, ReceiverOptions options, CancellationToken ct)
        {
            var feed = new Feed(stream, destinations, options);
            await feed.Receiver.ListenAsync(TransportAddress.Tcp("127.0.0.1", 0), ct);
            feed._sockets = new Socket[feed._channels.Length];
            for (int i = 0; i < feed._sockets.Length; i++)
            {
                feed._sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await feed._sockets[i].ConnectAsync("127.0.0.1", feed.Receiver.Session.BoundAddress!.Port, ct);
            }
            return feed;
        }

        public MigrationReceiver Receiver { get; }

        /// <summary>Sends channel <paramref name="channel"/>'s bytes up to <paramref name="end"/> (from where it stopped).</summary>
        public async Task SendAsync(int channel, int end, CancellationToken ct)
        {
            if (end > _sent[channel]) await SendRawAsync(channel, _channels[channel].AsMemory(_sent[channel], end - _sent[channel]), ct);
            _sent[channel] = Math.Max(_sent[channel], end);
        }

        /// <summary>Sends <paramref name="bytes"/> on channel <paramref name="channel"/> as they are (after what was sent so far).</summary>
        public async Task SendRawAsync(int channel, ReadOnlyMemory<byte> bytes, CancellationToken ct)
        {
            if (_sockets.Length > 0)
            {
                while (!bytes.IsEmpty) bytes = bytes[await _sockets[channel].SendAsync(bytes, ct)..];
            }
            else await _pairs[channel].Send.SendAsync(bytes, ct);
        }

        /// <summary>Sends the rest of channel <paramref name="channel"/> and ends it.</summary>
        public async Task FinishAsync(int channel, CancellationToken ct)
        {
            await SendAsync(channel, _channels[channel].Length, ct);
            await EndAsync(channel, ct);
        }

        /// <summary>Ends channel <paramref name="channel"/> where it is (nothing more is sent on it).</summary>
        public async Task EndAsync(int channel, CancellationToken ct)
        {
            if (_sockets.Length > 0) _sockets[channel].Shutdown(SocketShutdown.Send);
            else await _pairs[channel].Send.CompleteSendAsync(ct);
        }

        /// <summary>Every channel's preamble, so the channel group forms whatever comes next.</summary>
        public async Task SendPreamblesAsync(CancellationToken ct)
        {
            for (int i = 0; i < _channels.Length; i++) await SendAsync(i, Preamble.Size, ct);
        }

        /// <summary>Polls <paramref name="condition"/> until it holds (the test's deadline bounds the wait).</summary>
        public static async Task UntilAsync(Func<bool> condition, CancellationToken ct)
        {
            while (!condition()) await Task.Delay(5, ct);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var socket in _sockets) socket.Dispose();
            foreach (var (send, receive) in _pairs)
            {
                send.Abort("the test is over");
                await receive.DisposeAsync();
                await send.DisposeAsync();
            }
            // A receiver whose run never ends (a loop stuck in a hold) fails the test instead of hanging the run.
            await Receiver.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
