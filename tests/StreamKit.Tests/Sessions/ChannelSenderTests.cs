using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// The two send paths of a channel: inline (the producer sends the chunk itself when nothing is queued
/// and no send is in progress: a blocking send on a socket, an async send elsewhere) and queued (the
/// channel's loop). Chunks are produced the way a pump produces them (encoded under the writer lock
/// into a buffer lent by an owner) and read back off a real connection, so the wire order, the
/// sequence numbers and the buffer hand-back are checked on real bytes.
/// </summary>
public class ChannelSenderTests
{
    private const ushort Device = 1;

    public enum Link { Tcp, Memory }

    [Theory]
    [InlineData(Link.Tcp)]
    [InlineData(Link.Memory)]
    public async Task IdleChannelSendsInlineBusyChannelQueuesAndTheWireKeepsHandOverOrder(Link link)
    {
        await using var h = await Harness.CreateAsync(link);
        var loop = h.Channel.RunAsync(h.Failure, null);

        var begin = h.SendBeginInline();
        Assert.Equal(1, h.Channel.InlineSends);
        Assert.Contains(begin.Buffer, h.Returned); // sent, so given back at once

        // The producer holds the send token (claimed, not sent yet): what is handed over meanwhile, data
        // and control alike, queues behind it and goes out in hand-over order once the token is released.
        var data1 = h.EncodeData(100_000, seed: 1);
        Assert.True(h.HandOver(data1));
        Assert.False(h.Channel.IsIdle);
        var info = h.Encode(w => w.WritePrecopyInfo(Device, new PrecopyInfoRecord(5, 6)));
        Assert.False(h.HandOver(info), "busy: queued");
        var data2 = h.EncodeData(50_000, seed: 2);
        Assert.False(h.HandOver(data2), "busy: queued");
        Assert.DoesNotContain(info.Buffer, h.Returned); // queued buffers stay lent until sent
        h.Channel.SendClaimed(data1.Buffer, data1.Length, h);

        await h.WaitUntilAsync(() => h.Returned.Count == 4 && h.Channel.IsIdle);
        var data3 = h.EncodeData(10_000, seed: 3);
        Assert.True(h.HandOver(data3), "idle again after the loop drained the queue");
        h.Channel.SendClaimed(data3.Buffer, data3.Length, h);
        var end = h.Encode(w => w.EndDevice(Device));
        Assert.True(h.HandOver(end));
        h.Channel.SendClaimed(end.Buffer, end.Length, h);

        h.Channel.EndStream();
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(h.Failure.Exception);
        Assert.Equal(4, h.Channel.InlineSends);
        Assert.Equal(3, h.Channel.QueuedSends); // PRECOPY_INFO, DATA 2, STREAM_END
        Assert.Equal(0, h.Channel.HandedOffSends);

        var chunks = await h.ReadAllAsync();
        Assert.Equal(new[] { ChunkType.DeviceBegin, ChunkType.Data, ChunkType.PrecopyInfo, ChunkType.Data, ChunkType.Data, ChunkType.DeviceEnd, ChunkType.StreamEnd },
            chunks.Select(c => c.Header.Type));
        var deviceChunks = chunks.Where(c => c.Header.Type != ChunkType.StreamEnd).ToArray();
        Assert.Equal(new ulong[] { 0, 1, 2, 3, 4, 5 }, deviceChunks.Select(c => c.Header.Sequence));
        Assert.Equal(data1.Payload, chunks[1].Payload);
        Assert.Equal(data2.Payload, chunks[3].Payload);
        Assert.Equal(data3.Payload, chunks[4].Payload);
        Assert.Equal(h.Channel.BytesSent, chunks.Sum(c => (long)c.Length));
    }

    [Fact]
    public async Task AnInlineSendThatCannotCompleteAtOnceIsFinishedByTheLoopBeforeWhatQueuedBehindIt()
    {
        // An async transport (no blocking send) whose buffer is smaller than the chunk: the send stays
        // pending until the peer reads, so the loop takes it over; the producer goes on at once.
        await using var h = await Harness.CreateAsync(Link.Memory, memoryBuffer: 16 << 10);
        var loop = h.Channel.RunAsync(h.Failure, null);
        h.SendBeginInline();

        var big = h.EncodeData(200_000, seed: 7);
        Assert.True(h.HandOver(big));
        h.Channel.SendClaimed(big.Buffer, big.Length, h); // returns although the peer reads nothing yet
        var info = h.Encode(w => w.WritePrecopyInfo(Device, new PrecopyInfoRecord(1, 2)));
        Assert.False(h.HandOver(info), "a send is still in progress: queued");
        Assert.DoesNotContain(big.Buffer, h.Returned); // not reused before its send completed
        Assert.DoesNotContain(info.Buffer, h.Returned);
        Assert.False(h.HandOver(h.Encode(w => w.EndDevice(Device))));

        h.Channel.EndStream();
        var chunks = await h.ReadAllAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(h.Failure.Exception);
        Assert.Equal(1, h.Channel.HandedOffSends);
        Assert.Equal(new[] { ChunkType.DeviceBegin, ChunkType.Data, ChunkType.PrecopyInfo, ChunkType.DeviceEnd, ChunkType.StreamEnd }, chunks.Select(c => c.Header.Type));
        Assert.Equal(big.Payload, chunks[1].Payload);
        Assert.Contains(big.Buffer, h.Returned);
        Assert.Contains(info.Buffer, h.Returned);
    }

    [Theory]
    [InlineData(Link.Tcp)]
    [InlineData(Link.Memory)]
    public async Task AFailingInlineSendFailsTheSessionWithTheConnectionsTypedReason(Link link)
    {
        await using var h = await Harness.CreateAsync(link);
        var loop = h.Channel.RunAsync(h.Failure, null);
        h.SendBeginInline();
        h.KillPeer();
        // The first sends may still land in the socket buffer before the reset arrives; within a few the
        // inline send fails, and the session fails with the transport's reason.
        for (int i = 0; i < 200 && !h.Failure.IsFailed; i++)
        {
            var chunk = h.EncodeData(64 << 10, seed: i);
            if (h.HandOver(chunk)) h.Channel.SendClaimed(chunk.Buffer, chunk.Length, h);
            await Task.Delay(5);
        }
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        var failure = Assert.IsType<MigrationException>(h.Failure.Exception);
        Assert.Equal(StreamErrorCode.ConnectionFailed, failure.Code);
        Assert.Equal(MigrationFailureOrigin.Transport, failure.Origin);
        Assert.IsType<TransportException>(failure.InnerException);
        Assert.False(h.Channel.IsIdle && h.HandOver(h.EncodeData(10, seed: 0)), "a stopped channel takes nothing more");
        Assert.Equal(h.Lent, h.Returned.Count); // every buffer came back, none is still being sent
    }

    [Fact]
    public async Task APumpSpreadsItsInlineSendsOverIdleChannels()
    {
        // One device, two channels: every chunk finds an idle channel to go out on inline (round robin
        // among idle ones), so both carry inline sends, and the receiver reassembles the state.
        var (source, destination) = SessionTestKit.Pair("sim:profile=bulk,size=8MiB,seed=72");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            MigrationSender? sender = null;
            var outcome = await SessionTestKit.RunAsync(source, destination, SessionTestKit.Sender(chunkSize: 64 << 10), SessionTestKit.Receiver(),
                SessionTestKit.LoopbackTcp(), 2, started: (s, _) => sender = s);
            SessionTestKit.AssertMigrated(outcome, source, destination, digest);
            Assert.All(sender!.Session.Channels, c => Assert.True(c.InlineSends > 0, $"channel {c.Index} sent nothing inline"));
        }
    }

    [Fact]
    public async Task AMigrationWhoseInlineSendFailsEndsTypedWithTheSourceRunning()
    {
        // The forward connection is cut mid-stream while the pump sends inline (blocking sends on TCP):
        // the session fails with the transport's typed reason, the source is RUNNING with its state.
        var (source, destination) = SessionTestKit.Pair("sim:profile=bulk,size=8MiB,seed=71");
        using (source)
        using (destination)
        {
            ulong sourceDigest = source.StateDigest, destinationDigest = destination.StateDigest;
            FaultProxy? proxy = null;
            MigrationSender? sender = null;
            try
            {
                var outcome = await SessionTestKit.RunAsync(source, destination, SessionTestKit.Sender(chunkSize: 64 << 10), SessionTestKit.Receiver(),
                    SessionTestKit.LoopbackTcp(), 1,
                    via: target =>
                    {
                        proxy = new FaultProxy(new IPEndPoint(IPAddress.Parse(target.Host!), target.Port),
                            new FaultProxy.Fault(0, FaultProxy.Direction.Forward, 2_000_000, FaultProxy.Kind.Cut));
                        return proxy.Address(1);
                    },
                    started: (s, _) => sender = s);
                Assert.True(proxy!.Fired, "the proxy never reached the cut");
                var (s, _) = SessionTestKit.AssertFailedCleanly(outcome, source, sourceDigest, destination, destinationDigest);
                Assert.Contains(s.Code, new[] { StreamErrorCode.ConnectionFailed, StreamErrorCode.PeerError, StreamErrorCode.Timeout });
                Assert.True(sender!.Session.Channels[0].InlineSends > 0, "the pump sent inline before the cut");
            }
            finally
            {
                if (proxy is not null) await proxy.DisposeAsync();
            }
        }
    }

    /// <summary>One channel over a real connection, lending pinned buffers as a pump does.</summary>
    private sealed class Harness : IChunkBufferOwner, IAsyncDisposable
    {
        private readonly TransportConnection _local;
        private readonly TransportConnection _peer;
        private readonly Socket? _peerSocket;

        private Harness(TransportConnection local, TransportConnection peer, Socket? peerSocket)
        {
            _local = local;
            _peer = peer;
            _peerSocket = peerSocket;
            var sink = new ChunkSink();
            sink.Attach(new byte[Preamble.Size]); // the writer's preamble goes nowhere (the connector sends it)
            var writer = ChunkWriter.CreateChannels(new ChunkWriterOptions { MaxPayload = 1 << 20, ChunkSize = 256 << 10, MaxDevices = 1, Capabilities = StreamCapabilities.PrecopyHints }, [sink])[0];
            Channel = new ChannelSender(0, local, writer, sink, queueCapacity: 8, keepalive: TimeSpan.FromMinutes(5));
        }

        public ChannelSender Channel { get; }
        public SessionFailure Failure { get; } = new(sender: true, CancellationToken.None);
        public ConcurrentBag<byte[]> Returned { get; } = [];
        public int Lent { get; private set; }

        public static async Task<Harness> CreateAsync(Link link, long memoryBuffer = 4 << 20)
        {
            if (link == Link.Memory)
            {
                var (a, b) = MemoryConnection.CreatePair("channel-test", memoryBuffer);
                return new Harness(a, b, null);
            }
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await listener.AcceptAsync();
            return new Harness(new SocketConnection(client, TransportKind.Tcp, ConnectionSettings.Unbounded),
                new SocketConnection(server, TransportKind.Tcp, ConnectionSettings.Unbounded), server);
        }

        public void ReturnBuffer(byte[] buffer) => Returned.Add(buffer);

        public readonly record struct Encoded(byte[] Buffer, int Length, byte[] Payload);

        /// <summary>Encodes DEVICE_BEGIN and sends it inline, as a pump does first on an idle channel.</summary>
        public Encoded SendBeginInline()
        {
            var begin = Encode(w => w.BeginDevice(Device, new DeviceBeginRecord(0, DeviceBeginRecord.UnknownEstimate, "dev", "")));
            Assert.True(Channel.IsIdle);
            Assert.True(HandOver(begin), "an idle channel lets the producer send inline");
            Channel.SendClaimed(begin.Buffer, begin.Length, this);
            return begin;
        }

        public Encoded Encode(Action<ChunkWriter> write)
        {
            var buffer = Lend(ChunkHeader.Size + 4096);
            lock (Channel.WriterLock)
            {
                Channel.Sink.Attach(buffer);
                write(Channel.Writer);
                return new Encoded(buffer, Channel.Sink.Written, []);
            }
        }

        public Encoded EncodeData(int length, int seed)
        {
            var buffer = Lend(ChunkHeader.Size + length);
            var payload = new byte[length];
            new Random(seed).NextBytes(payload);
            payload[0] |= 1; // never all zero (that would be a ZERO_RUN)
            lock (Channel.WriterLock)
            {
                Channel.Sink.Attach(buffer);
                payload.CopyTo(Channel.Writer.GetPayloadSpan(length));
                Channel.Writer.CommitData(Device, length, DataPhase.PreCopy);
                return new Encoded(buffer, Channel.Sink.Written, payload);
            }
        }

        /// <summary>What a pump does after encoding (under the writer lock): send inline (true) or queue.</summary>
        public bool HandOver(Encoded chunk)
        {
            lock (Channel.WriterLock) return Channel.EnqueueOrClaim(chunk.Buffer, chunk.Length, this);
        }

        private byte[] Lend(int size)
        {
            Lent++;
            return GC.AllocateUninitializedArray<byte>(size, pinned: true);
        }

        /// <summary>The peer goes away with a reset: the next sends fail.</summary>
        public void KillPeer()
        {
            if (_peerSocket is not null) _peerSocket.LingerState = new LingerOption(true, 0);
            _peer.Abort("the test kills the peer");
        }

        public record struct ReadChunk(ChunkHeader Header, byte[] Payload, int Length);

        public async Task<List<ReadChunk>> ReadAllAsync()
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var chunks = new List<ReadChunk>();
            long offset = 0;
            var header = new byte[ChunkHeader.Size];
            while (true)
            {
                await _peer.ReceiveExactlyAsync(header, deadline.Token);
                var decoded = ChunkHeader.Decode(header, offset);
                var payload = new byte[decoded.WireLength];
                if (payload.Length > 0) await _peer.ReceiveExactlyAsync(payload, deadline.Token);
                chunks.Add(new ReadChunk(decoded, payload, ChunkHeader.Size + payload.Length));
                offset += ChunkHeader.Size + payload.Length;
                if (decoded.Type == ChunkType.StreamEnd) return chunks;
            }
        }

        public async Task WaitUntilAsync(Func<bool> condition)
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!condition()) await Task.Delay(5, deadline.Token);
        }

        public async ValueTask DisposeAsync()
        {
            Failure.Dispose();
            await _local.DisposeAsync();
            await _peer.DisposeAsync();
        }
    }
}
