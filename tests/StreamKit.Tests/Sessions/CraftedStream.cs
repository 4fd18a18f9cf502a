using System.Buffers;
using StreamKit.Device;
using StreamKit.Tests.Device;
using StreamKit.Transport;
using StreamKit.Wire;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// One device's stop-copy migration written chunk by chunk onto N channels with <see cref="ChunkWriter"/>
/// (the channel of every chunk chosen by the test), and a receiver fed those channels over in-process
/// connections piece by piece, so a test decides exactly what the receiver has seen when: which chunks
/// arrive early, which channel is ahead, where a corrupted payload sits.
/// </summary>
internal sealed class CraftedStream
{
    private CraftedStream(byte[][] channels, List<Piece> pieces)
    {
        Channels = channels;
        Pieces = pieces;
    }

    /// <summary>Where one chunk lies: its channel and byte range there (DEVICE_BEGIN is piece 0, DEVICE_END the last).</summary>
    public readonly record struct Piece(int Channel, int Start, int End);

    public byte[][] Channels { get; }
    public IReadOnlyList<Piece> Pieces { get; }

    /// <summary>Device chunks of the stream (DEVICE_BEGIN, the DATA chunks, DEVICE_END).</summary>
    public int DeviceChunks => Pieces.Count;

    /// <summary>
    /// The whole state of <paramref name="source"/> (saved by STOP_COPY, the source ends in STOP) as DEVICE_BEGIN,
    /// DATA chunks of <paramref name="chunkSize"/> bytes and DEVICE_END for device 1, chunk i on channel <paramref name="channelOf"/>(i).
    /// </summary>
    public static CraftedStream Build(SimulatedDevice source, IMigrationDevice destination, int channels, int chunkSize, Func<int, int> channelOf)
    {
        byte[] state = SimMigration.Save(source, readSize: 64 * 1024, precopy: false).Stream;
        var outputs = Enumerable.Range(0, channels).Select(_ => new ArrayBufferWriter<byte>()).ToArray();
        var writers = ChunkWriter.CreateChannels(new ChunkWriterOptions { MaxPayload = (uint)chunkSize, ChunkSize = chunkSize, DetectZeroRuns = false }, outputs);
        var pieces = new List<Piece>();
        void Step(Action<ChunkWriter> write)
        {
            int channel = channelOf(pieces.Count);
            int start = outputs[channel].WrittenCount;
            write(writers[channel]);
            pieces.Add(new Piece(channel, start, outputs[channel].WrittenCount));
        }
        Step(w => w.BeginDevice(1, new DeviceBeginRecord((ulong)MigrationFeatures.StopCopy, (ulong)state.Length, destination.Name, destination.DriverHint)));
        for (int offset = 0; offset < state.Length; offset += chunkSize)
        {
            int at = offset;
            Step(w => w.WriteData(1, state.AsSpan(at, Math.Min(chunkSize, state.Length - at)), DataPhase.StopCopy));
        }
        Step(w => w.EndDevice(1));
        foreach (var writer in writers) writer.EndStream();
        return new CraftedStream(outputs.Select(o => o.WrittenSpan.ToArray()).ToArray(), pieces);
    }

    /// <summary>The device bytes DATA piece <paramref name="piece"/> carries (payload of a stored chunk).</summary>
    public ReadOnlySpan<byte> Payload(int piece)
    {
        var p = Pieces[piece];
        return Channels[p.Channel].AsSpan(p.Start + ChunkHeader.Size, p.End - p.Start - ChunkHeader.Size);
    }

    /// <summary>A receiver of one device on in-process connections; the test sends each channel's bytes when it chooses.</summary>
    public sealed class Feed : IAsyncDisposable
    {
        private readonly (MemoryConnection Send, MemoryConnection Receive)[] _pairs;
        private readonly byte[][] _channels;
        private readonly int[] _sent;

        public Feed(CraftedStream stream, IMigrationDevice destination, ReceiverOptions options)
        {
            _channels = stream.Channels;
            _sent = new int[_channels.Length];
            _pairs = _channels.Select((c, i) => MemoryConnection.CreatePair($"crafted{i}", bufferBytes: c.Length + (1 << 20))).ToArray();
            Receiver = new MigrationReceiver(options);
            Receiver.AddDevice(1, destination);
            Receiver.Session.ListenOn(new MemoryListener([.. _pairs.Select(p => (TransportConnection)p.Receive)], options.Transport));
        }

        public MigrationReceiver Receiver { get; }

        /// <summary>Sends channel <paramref name="channel"/>'s bytes up to <paramref name="end"/> (from where it stopped).</summary>
        public async Task SendAsync(int channel, int end, CancellationToken ct)
        {
            if (end > _sent[channel]) await _pairs[channel].Send.SendAsync(_channels[channel].AsMemory(_sent[channel], end - _sent[channel]), ct);
            _sent[channel] = Math.Max(_sent[channel], end);
        }

        /// <summary>Sends the rest of channel <paramref name="channel"/> and ends it.</summary>
        public async Task FinishAsync(int channel, CancellationToken ct)
        {
            await SendAsync(channel, _channels[channel].Length, ct);
            await _pairs[channel].Send.CompleteSendAsync(ct);
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
            foreach (var (send, receive) in _pairs)
            {
                send.Abort("the test is over");
                await receive.DisposeAsync();
                await send.DisposeAsync();
            }
            await Receiver.DisposeAsync();
        }
    }
}
