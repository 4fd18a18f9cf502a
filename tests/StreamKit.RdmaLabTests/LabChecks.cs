using System.Buffers;
using System.Diagnostics;
using System.IO.Pipes;
using System.Net;
using StreamKit.Transport.Rdma;
using StreamKit.Transport.Rdma.Native;
using StreamKit.Wire;

namespace StreamKit.RdmaLabTests;

/// <summary>The checks, in the order they run. Sizes are small: TCG-emulated soft-RoCE moves a few MB/s.</summary>
internal sealed class LabChecks(IPAddress address, string deviceName)
{
    /// <summary>
    /// Bytes per transfer check: 16 MiB by default (emulated soft-RoCE under load moves well
    /// under 1 MB/s of checked chunks), RDMA_LAB_MIB=64 for the full-size run.
    /// </summary>
    private static readonly long TransferBytes =
        (long.TryParse(Environment.GetEnvironmentVariable("RDMA_LAB_MIB"), out long mib) && mib > 0 ? mib : 16) << 20;
    private const int KiB = 1024;

    /// <summary>Lab-sized channels: 64 KiB messages, 8 credits (RDMA_LAB_BUFFER_KIB / RDMA_LAB_DEPTH override, for hardware).</summary>
    private static readonly RdmaChannelOptions Small = new()
    {
        ReceiveBufferSize = EnvInt("RDMA_LAB_BUFFER_KIB", 64) * KiB,
        MaxSendBufferSize = EnvInt("RDMA_LAB_BUFFER_KIB", 64) * KiB,
        ReceiveDepth = EnvInt("RDMA_LAB_DEPTH", 8),
        ControlDepth = 2,
        SendDepth = EnvInt("RDMA_LAB_DEPTH", 8),
        ConnectTimeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>Generous for emulation on a loaded host: a minute plus 4 s per MiB.</summary>
    private static TimeSpan TransferTimeout => TimeSpan.FromSeconds(60 + 4 * (TransferBytes >> 20));

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) && value > 0 ? value : fallback;

    /// <summary>Checks run only when named on the command line.</summary>
    internal IEnumerable<LabCheck> Optional()
    {
        yield return new("throughput-raw", TimeSpan.FromSeconds(300), ThroughputRaw);
    }

    internal IEnumerable<LabCheck> All()
    {
        yield return new("library-missing", TimeSpan.FromSeconds(10), LibraryMissing);
        yield return new("device-present", TimeSpan.FromSeconds(10), DevicePresent);
        yield return new("connect-refused", TimeSpan.FromSeconds(40), ConnectRefused);
        yield return new("connect-loopback-typed", TimeSpan.FromSeconds(40), ConnectLoopback);
        yield return new("handshake-preamble", TimeSpan.FromSeconds(60), HandshakePreamble);
        yield return new("transfer-1ch", TransferTimeout, TransferOneChannel);
        yield return new("transfer-2ch", TransferTimeout, TransferTwoChannels);
        yield return new("flow-control-slow-receiver", TimeSpan.FromSeconds(120), FlowControl);
        yield return new("stream-adapter", TimeSpan.FromSeconds(60), StreamAdapter);
        yield return new("receive-in-place", TimeSpan.FromSeconds(90), ReceiveInPlace);
        yield return new("peer-closes-mid-stream", TimeSpan.FromSeconds(60), PeerClosesMidStream);
        yield return new("peer-dies-mid-stream", TimeSpan.FromSeconds(300), PeerDies); // starts a dotnet child: slow under TCG on a loaded host
    }

    private Task<IReadOnlyList<string>> LibraryMissing(CancellationToken ct)
    {
        var verbs = RdmaLibraries.CheckLibraries("libibverbs-streamkit-absent.so.1", CmNative.Soname);
        Expect.True(verbs is { Kind: RdmaErrorKind.LibraryMissing }, $"missing verbs library gave {verbs?.Kind.ToString() ?? "no error"}");
        Expect.True(verbs!.Message.Contains("ibverbs-providers") && verbs.Message.Contains("librdmacm1"), $"message does not name the packages: {verbs.Message}");
        var cm = RdmaLibraries.CheckLibraries(VerbsNative.Soname, "librdmacm-streamkit-absent.so.1");
        Expect.True(cm is { Kind: RdmaErrorKind.LibraryMissing } && cm.Message.Contains("librdmacm1"), $"missing rdmacm library gave {cm?.Message ?? "no error"}");
        Expect.True(RdmaLibraries.CheckLibraries(VerbsNative.Soname, CmNative.Soname) == null, "the real libraries do not load");
        return Task.FromResult<IReadOnlyList<string>>([verbs.Message, cm!.Message]);
    }

    private Task<IReadOnlyList<string>> DevicePresent(CancellationToken ct)
    {
        var devices = RdmaLibraries.EnsureAvailable();
        Expect.True(devices.Contains(deviceName), $"devices [{string.Join(", ", devices)}] lack {deviceName}");
        return Task.FromResult<IReadOnlyList<string>>([$"devices: {string.Join(", ", devices)}"]);
    }

    private async Task<IReadOnlyList<string>> ConnectRefused(CancellationToken ct)
    {
        // A port with nobody listening: bind and close a listener to learn a free one.
        int port;
        using (var probe = RdmaListener.Bind(new IPEndPoint(address, 0), Small)) port = probe.LocalEndPoint.Port;
        var e = await Expect.ThrowsAsync<RdmaException>(() => RdmaConnector.ConnectAsync(new IPEndPoint(address, port), Small, ct), "connect to a closed port");
        Expect.True(e.Kind == RdmaErrorKind.ConnectionRejected, $"kind {e.Kind}: {e.Message}");
        return [e.Message];
    }

    private async Task<IReadOnlyList<string>> ConnectLoopback(CancellationToken ct)
    {
        var e = await Expect.ThrowsAsync<RdmaException>(() => RdmaConnector.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 7471), Small, ct), "connect to 127.0.0.1");
        Expect.True(e.Kind is RdmaErrorKind.AddressResolution or RdmaErrorKind.ConnectionRejected or RdmaErrorKind.ConnectTimeout, $"kind {e.Kind}: {e.Message}");
        return [e.Message];
    }

    private async Task<IReadOnlyList<string>> HandshakePreamble(CancellationToken ct)
    {
        var clientOptions = Small with { ReceiveBufferSize = 16 * KiB, MaxSendBufferSize = 1 << 20 };
        var serverOptions = Small with { ReceiveBufferSize = 64 * KiB, MaxSendBufferSize = 64 * KiB };
        await using var pair = await ChannelPair.ConnectAsync(address, serverOptions, clientOptions, ct);
        Expect.True(pair.Client.MaxMessageSize == 64 * KiB, $"client may send {pair.Client.MaxMessageSize}, server receives 64 KiB");
        Expect.True(pair.Server.MaxMessageSize == 16 * KiB, $"server may send {pair.Server.MaxMessageSize}, client receives 16 KiB");
        Expect.True(pair.Server.RemoteEndPoint?.Address.Equals(address) == true, $"server sees peer {pair.Server.RemoteEndPoint}");

        var streamId = Guid.NewGuid();
        var forward = new Preamble(streamId, 0, 1, StreamCapabilities.ReturnPath, (uint)(pair.Client.MaxMessageSize - ChunkHeader.Size), 4, PreambleRole.Forward);
        await SendPreambleAsync(pair.Client, forward, ct);
        var got = await ReceivePreambleAsync(pair.Server, ct);
        Expect.True(got == forward, $"server decoded {got}, sent {forward}");
        var back = forward with { Role = PreambleRole.ReturnPath, MaxPayload = (uint)(pair.Server.MaxMessageSize - ChunkHeader.Size) };
        await SendPreambleAsync(pair.Server, back, ct);
        var gotBack = await ReceivePreambleAsync(pair.Client, ct);
        Expect.True(gotBack == back, $"client decoded {gotBack}");

        await Task.WhenAll(pair.Client.CompleteAsync(ct).AsTask(), pair.Server.CompleteAsync(ct).AsTask());
        Expect.True(await pair.Server.ReceiveAsync(ct) == null && await pair.Client.ReceiveAsync(ct) == null, "end of stream not seen on both sides");
        return Lines($"client→server messages ≤ {pair.Client.MaxMessageSize} B, server→client ≤ {pair.Server.MaxMessageSize} B; server sees {pair.Server.RemoteEndPoint}");
    }

    private async Task<IReadOnlyList<string>> TransferOneChannel(CancellationToken ct)
    {
        await using var pair = await ChannelPair.ConnectAsync(address, Small, Small, ct);
        var watch = Stopwatch.StartNew();
        long verified = await ChunkPump.TransferAsync(pair.Client, pair.Server, TransferBytes, 11, ct);
        Expect.True(verified == TransferBytes, $"verified {verified} of {TransferBytes} bytes");
        var server = pair.Server.Counters;
        return Lines($"{TransferBytes >> 20} MiB byte-exact in {watch.Elapsed.TotalSeconds:0.0} s ({TransferBytes / watch.Elapsed.TotalSeconds / 1e6:0.0} MB/s under emulation); " +
                    $"{server.DataMessagesReceived} messages, {server.CreditMessagesSent} credit-only messages back");
    }

    private async Task<IReadOnlyList<string>> TransferTwoChannels(CancellationToken ct)
    {
        using var listener = RdmaListener.Bind(new IPEndPoint(address, 0), Small);
        var endpoint = RdmaEndpoint.Parse($"rdma://{address}:{listener.LocalEndPoint.Port}?channels=2");
        var accepting = Task.Run(async () => new[] { await listener.AcceptAsync(ct), await listener.AcceptAsync(ct) }, ct);
        RdmaChannel[] clients = await RdmaConnector.ConnectAsync(endpoint, Small, ct);
        RdmaChannel[] accepted = await accepting;
        try
        {
            Expect.True(clients.Length == 2, $"{endpoint} opened {clients.Length} channels");
            // Channels are identified by their preamble, not by accept order.
            var streamId = Guid.NewGuid();
            for (ushort i = 0; i < 2; i++)
                await SendPreambleAsync(clients[i], new Preamble(streamId, i, 2, 0, (uint)(clients[i].MaxMessageSize - ChunkHeader.Size), 4, PreambleRole.Forward), ct);
            var servers = new RdmaChannel[2];
            foreach (var channel in accepted)
            {
                var preamble = await ReceivePreambleAsync(channel, ct);
                Expect.True(preamble.StreamId == streamId && preamble.ChannelCount == 2, $"unexpected preamble {preamble}");
                servers[preamble.ChannelIndex] = channel;
            }
            Expect.True(servers[0] != null && servers[1] != null, "both channel indexes must arrive");
            var watch = Stopwatch.StartNew();
            long[] verified = await Task.WhenAll(
                ChunkPump.TransferAsync(clients[0], servers[0], TransferBytes / 2, 21, ct),
                ChunkPump.TransferAsync(clients[1], servers[1], TransferBytes / 2, 22, ct));
            Expect.True(verified.All(v => v == TransferBytes / 2), $"verified {string.Join(", ", verified)} of {TransferBytes / 2} each");
            return Lines($"{endpoint}: 2 × {TransferBytes >> 21} MiB byte-exact in {watch.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            foreach (var c in clients.Concat(accepted)) c.Dispose();
        }
    }

    private async Task<IReadOnlyList<string>> FlowControl(CancellationToken ct)
    {
        const int credits = 4, sendDepth = 8;
        var serverOptions = Small with { ReceiveBufferSize = 16 * KiB, ReceiveDepth = credits, ControlDepth = 1 };
        var clientOptions = Small with { SendDepth = sendDepth };
        await using var pair = await ChannelPair.ConnectAsync(address, serverOptions, clientOptions, ct);
        const long total = 4L << 20;
        var pattern = new Pattern(31);
        using var sourceOut = new AnonymousPipeServerStream(PipeDirection.Out);
        using var sourceIn = new AnonymousPipeClientStream(PipeDirection.In, sourceOut.ClientSafePipeHandle);
        using var sinkIn = new AnonymousPipeServerStream(PipeDirection.In);
        using var sinkOut = new AnonymousPipeClientStream(PipeDirection.Out, sinkIn.ClientSafePipeHandle);
        var produce = Task.Factory.StartNew(() => pattern.Produce(sourceOut, total, 31), TaskCreationOptions.LongRunning);
        var consume = Task.Factory.StartNew(() => pattern.Verify(sinkIn), TaskCreationOptions.LongRunning);
        var send = Task.Factory.StartNew(() => ChunkPump.SendAsync(pair.Client, sourceIn, total, new Random(32), ct), TaskCreationOptions.LongRunning).Unwrap();

        // The receiver does not read at all: the sender must stop with exactly its window out.
        RdmaChannelCounters client = default, server = default;
        for (int i = 0; i < 300; i++)
        {
            await Task.Delay(100, ct);
            client = pair.Client.Counters;
            server = pair.Server.Counters;
            if (client.PendingSends == sendDepth && server.DataMessagesReceived == credits) break;
        }
        await Task.Delay(1000, ct); // and it stays there
        client = pair.Client.Counters;
        server = pair.Server.Counters;
        Expect.True(!send.IsCompleted, $"sender finished or failed while the receiver read nothing: {send.Exception?.GetBaseException().Message}");
        Expect.True(server.DataMessagesReceived == credits && server.ReadyMessages == credits,
            $"receiver got {server.DataMessagesReceived} messages ({server.ReadyMessages} unread) with {credits} buffers granted");
        Expect.True(client.DataCredits == 0 && client.PendingSends == sendDepth && client.FreeSendBuffers == 0,
            $"sender: credits {client.DataCredits}, pending {client.PendingSends}, free buffers {client.FreeSendBuffers}");
        string stalled = $"stalled: sender {client.DataMessagesSent} posted + {client.PendingSends} queued, 0 credits, no free buffer; receiver {server.DataMessagesReceived} received with {credits} buffers";

        // Now a slow receiver: the device sink sleeps on every write. The window must hold throughout.
        int maxReady = 0;
        var slowSink = new SlowStream(sinkOut, TimeSpan.FromMilliseconds(2));
        var receive = Task.Factory.StartNew(() => ChunkPump.ReceiveAsync(pair.Server, slowSink, ct), TaskCreationOptions.LongRunning).Unwrap();
        while (!receive.IsCompleted)
        {
            maxReady = Math.Max(maxReady, pair.Server.Counters.ReadyMessages);
            await Task.WhenAny(receive, Task.Delay(20, ct));
        }
        await Task.WhenAll(produce, send, receive);
        long verified = await consume;
        Expect.True(verified == total, $"verified {verified} of {total}");
        Expect.True(maxReady <= credits, $"{maxReady} messages were waiting with only {credits} buffers");
        server = pair.Server.Counters;
        Expect.True(server.CreditMessagesSent > 0, "the receiver never sent a credit-only message");
        return Lines(stalled, $"then drained slowly: {total >> 20} MiB byte-exact, at most {maxReady} waiting, {server.CreditMessagesSent} credit-only messages");
    }

    /// <summary>
    /// The session's receive path on a real channel: a <see cref="ReceiveWindow"/> over an
    /// <see cref="RdmaConnection"/> reads messages in place in the registered receive buffers. One read
    /// needs 1 MiB while 8 × 64 KiB buffers exist: lending them all would leave the sender without
    /// credits (a hang); the lending budget (6) makes the window copy the rest. Then a lease on lent
    /// bytes outlives an abort and the connection's disposal (QP destroyed, MR deregistered): the bytes
    /// stay intact and the late release re-posts nothing.
    /// </summary>
    private async Task<IReadOnlyList<string>> ReceiveInPlace(CancellationToken ct)
    {
        await using var pair = await ChannelPair.ConnectAsync(address, Small, Small, ct);
        var sender = new Transport.RdmaConnection(pair.Client, "lab-client", Transport.ConnectionSettings.Unbounded);
        var receiver = new Transport.RdmaConnection(pair.Server, "lab-server", Transport.ConnectionSettings.Unbounded);
        const int Big = 1 << 20, Tail = 1000;
        var data = new byte[Big + Tail];
        new Random(71).NextBytes(data);
        var sending = Task.Run(async () => await sender.SendAsync(data, ct), ct);
        using var pool = new Transport.PinnedBufferPool(maxBytes: 4 << 20, maxBlockSize: 64 * KiB);
        var window = new Transport.ReceiveWindow(receiver, pool, blockSize: 64 * KiB, maxReadAhead: 2 << 20);
        Transport.BufferLease lease;
        ReadOnlySequence<byte> held;
        try
        {
            var r = await window.ReadAtLeastAsync(Big, ct);
            Expect.True(r.Buffer.Slice(0, Big).ToArray().AsSpan().SequenceEqual(data.AsSpan(0, Big)), "the 1 MiB read differs from what was sent");
            Expect.True(receiver.LentBuffers <= Transport.SegmentLender.LimitFor(Small.ReceiveDepth), $"{receiver.LentBuffers} buffers lent (budget {Transport.SegmentLender.LimitFor(Small.ReceiveDepth)})");
            long inPlace = receiver.ReceivedInPlaceBytes, fallback = receiver.ReceivedFallbackBytes;
            Expect.True(inPlace > 0 && fallback > 0, $"in place {inPlace}, fallback {fallback}: the read should have lent up to the budget, then copied");
            window.Advance(Big);
            await sending;
            r = await window.ReadAtLeastAsync(Tail, ct);
            held = r.Buffer.Slice(0, Tail);
            lease = window.Lease(held);
            window.Advance(Tail);
            long lentTail = receiver.ReceivedInPlaceBytes - inPlace;
            Expect.True(lentTail > 0 && receiver.LentBuffers >= 1, $"the tail was not lent ({lentTail} bytes in place, {receiver.LentBuffers} lent)");
            receiver.Abort("lab: closing with a buffer lent");
            await receiver.DisposeAsync();
            Expect.True(pair.Server.IsClosed, "the channel is not closed");
        }
        finally
        {
            window.Dispose();
        }
        Expect.True(held.ToArray().AsSpan().SequenceEqual(data.AsSpan(Big, Tail)), "leased bytes changed after the connection closed");
        lease.Release();
        Expect.True(receiver.LentBuffers == 0, $"{receiver.LentBuffers} buffers still lent after the release");
        await sender.DisposeAsync();
        return Lines($"1 MiB read over 8 × {Small.ReceiveBufferSize >> 10} KiB receive buffers: {receiver.ReceivedInPlaceBytes} bytes in place, {receiver.ReceivedFallbackBytes} copied by the lending budget's fallback (budget {Transport.SegmentLender.LimitFor(Small.ReceiveDepth)} of {Small.ReceiveDepth})",
            "a lease on lent bytes outlived abort + dispose (QP destroyed, MR deregistered): bytes intact, late release safe");
    }

    private async Task<IReadOnlyList<string>> StreamAdapter(CancellationToken ct)
    {
        await using var pair = await ChannelPair.ConnectAsync(address, Small, Small, ct);
        var data = new byte[300_001];
        new Random(5).NextBytes(data);
        var writer = Task.Run(async () =>
        {
            await using var stream = new RdmaChannelStream(pair.Client, leaveOpen: true);
            for (int at = 0, n = 1; at < data.Length; at += n, n = n * 3 % 9973 + 1)
                await stream.WriteAsync(data.AsMemory(at, Math.Min(n, data.Length - at)), ct);
            await stream.FlushAsync(ct);
            await pair.Client.CompleteAsync(ct);
        }, ct);
        var received = new MemoryStream();
        await using (var stream = new RdmaChannelStream(pair.Server, leaveOpen: true)) await stream.CopyToAsync(received, ct);
        await writer;
        Expect.True(received.ToArray().AsSpan().SequenceEqual(data), $"received {received.Length} bytes, not the {data.Length} written");
        return Lines($"{data.Length} bytes in odd-sized writes through the copying adapter");
    }

    private async Task<IReadOnlyList<string>> PeerClosesMidStream(CancellationToken ct)
    {
        var pair = await ChannelPair.ConnectAsync(address, Small, Small, ct);
        await using var _ = pair;
        using var source = new InfiniteSource(41);
        var send = Task.Factory.StartNew(() => ChunkPump.SendAsync(pair.Client, source, long.MaxValue, new Random(42), ct), TaskCreationOptions.LongRunning).Unwrap();
        for (int received = 0; received < 16;)
        {
            using var message = await pair.Server.ReceiveAsync(ct) ?? throw new LabCheckException("stream ended early");
            received++;
        }
        pair.Server.Dispose(); // no end marker: an abort
        var e = await Expect.ThrowsAsync<RdmaException>(() => send, "sender after the receiver closed");
        Expect.True(e.Kind == RdmaErrorKind.PeerDisconnected, $"kind {e.Kind}: {e.Message}");
        var local = await Expect.ThrowsAsync<RdmaException>(() => pair.Server.ReceiveAsync(ct).AsTask(), "receive on the closed channel");
        Expect.True(local.Kind == RdmaErrorKind.Closed, $"closed channel: kind {local.Kind}");
        return Lines($"sender: {e.Message}");
    }

    /// <summary>
    /// One child process opens two channels: on the first it streams to us (we receive), on
    /// the second it receives and never releases a buffer (our sender blocks). SIGKILL must
    /// turn both our blocked receive and our blocked send into a typed error, not a hang.
    /// </summary>
    private async Task<IReadOnlyList<string>> PeerDies(CancellationToken ct)
    {
        using var listener = RdmaListener.Bind(new IPEndPoint(address, 0), Small);
        using var peer = PeerProcess.Start("both", listener.LocalEndPoint);
        using var receiving = await listener.AcceptAsync(ct); // the child connects its sending channel first
        using var sending = await listener.AcceptAsync(ct);

        using var sinkIn = new AnonymousPipeServerStream(PipeDirection.In);
        using var sinkOut = new AnonymousPipeClientStream(PipeDirection.Out, sinkIn.ClientSafePipeHandle);
        var consume = Task.Factory.StartNew(() => new Pattern(PeerProcess.SendSeed).Verify(sinkIn), TaskCreationOptions.LongRunning);
        var receive = Task.Factory.StartNew(() => ChunkPump.ReceiveAsync(receiving, sinkOut, ct), TaskCreationOptions.LongRunning).Unwrap();
        using var source = new InfiniteSource(61);
        var send = Task.Factory.StartNew(() => ChunkPump.SendAsync(sending, source, long.MaxValue, new Random(62), ct), TaskCreationOptions.LongRunning).Unwrap();

        while ((receiving.Counters.DataMessagesReceived < 32 || sending.Counters.PendingSends < Small.SendDepth) && !receive.IsCompleted && !send.IsCompleted)
            await Task.Delay(50, ct);
        Expect.True(!receive.IsCompleted && !send.IsCompleted,
            $"a side ended before the kill: {(receive.Exception ?? send.Exception)?.GetBaseException().Message}");
        var sent = sending.Counters;
        var killed = Stopwatch.StartNew();
        peer.Kill();

        var receiveError = await Expect.ThrowsAsync<RdmaException>(() => receive, "receiving from the killed peer");
        double receiveSeconds = killed.Elapsed.TotalSeconds;
        var sendError = await Expect.ThrowsAsync<RdmaException>(() => send, "blocked sender to the killed peer");
        double sendSeconds = killed.Elapsed.TotalSeconds;
        Expect.True(receiveError.Kind == RdmaErrorKind.PeerDisconnected, $"receiver: kind {receiveError.Kind}: {receiveError.Message}");
        Expect.True(sendError.Kind == RdmaErrorKind.PeerDisconnected, $"sender: kind {sendError.Kind}: {sendError.Message}");
        long verified = await consume; // everything that arrived before the death is intact
        return Lines(
            $"receiver: {receiveError.Message} ({receiveSeconds:0.0} s after SIGKILL; the {verified} bytes before it verified)",
            $"blocked sender ({sent.PendingSends} queued, {sent.DataCredits} credits): {sendError.Message} ({sendSeconds:0.0} s after SIGKILL)");
    }

    /// <summary>
    /// Transport alone (not run by default): fixed 64 KiB messages, no pipes or checksums, each
    /// message stamped with its number at both ends. Shows how much of the pump's time is the
    /// transport under emulation; compare with rstream in the same lab.
    /// </summary>
    private async Task<IReadOnlyList<string>> ThroughputRaw(CancellationToken ct)
    {
        await using var pair = await ChannelPair.ConnectAsync(address, Small, Small, ct);
        int size = pair.Client.MaxMessageSize;
        long count = TransferBytes / size;
        var watch = Stopwatch.StartNew();
        var send = Task.Run(async () =>
        {
            for (long i = 0; i < count; i++)
            {
                var buffer = await pair.Client.GetSendBufferAsync(ct);
                BitConverter.TryWriteBytes(buffer.Span, i);
                BitConverter.TryWriteBytes(buffer.Span[(size - 8)..], ~i);
                buffer.Send(size);
            }
            await pair.Client.CompleteAsync(ct);
        }, ct);
        long received = 0;
        while (await pair.Server.ReceiveAsync(ct) is { } message)
        {
            using (message)
            {
                Expect.True(message.Length == size && BitConverter.ToInt64(message.Span) == received && BitConverter.ToInt64(message.Span[(size - 8)..]) == ~received,
                    $"message {received} arrived wrong");
                received++;
            }
        }
        await send;
        Expect.True(received == count, $"received {received} of {count} messages");
        return Lines($"{count} × {size >> 10} KiB in {watch.Elapsed.TotalSeconds:0.0} s = {count * size / watch.Elapsed.TotalSeconds / 1e6:0.0} MB/s (emulated; not a performance figure)");
    }

    private static async Task SendPreambleAsync(RdmaChannel channel, Preamble preamble, CancellationToken ct)
    {
        var buffer = await channel.GetSendBufferAsync(ct);
        preamble.Encode(buffer.Span);
        buffer.Send(Preamble.Size);
    }

    private static async Task<Preamble> ReceivePreambleAsync(RdmaChannel channel, CancellationToken ct)
    {
        using var message = await channel.ReceiveAsync(ct) ?? throw new LabCheckException("stream ended before the preamble");
        Expect.True(message.Length == Preamble.Size, $"first message is {message.Length} bytes, not a {Preamble.Size}-byte preamble");
        return Preamble.Decode(message.Span);
    }

    private static IReadOnlyList<string> Lines(params string[] details) => details;
}
