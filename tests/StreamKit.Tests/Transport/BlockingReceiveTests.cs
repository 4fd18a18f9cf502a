using System.Net;
using System.Net.Sockets;
using StreamKit.Transport;
using Xunit;

namespace StreamKit.Tests.Transport;

/// <summary>
/// <see cref="TransportConnection.TryReceiveBlocking"/> on real TCP and Unix sockets: it returns the bytes
/// sent, 0 at the peer's FIN, the connection's typed reason when the peer resets; an abort, the idle
/// receive deadline or a cancellation wakes a receive blocked on a silent peer; transports without a
/// blocking path decline without receiving. <see cref="ReceiveWindow.ReadAtLeast"/> reads a stream through it.
/// </summary>
public class BlockingReceiveTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReturnsTheBytesSentThenZeroAtTheEnd(bool unix)
    {
        var (sender, receiver, _) = await PairAsync(unix);
        await using var s = sender;
        await using var r = receiver;
        Assert.True(r.CanReceiveBlocking);
        var data = TransportTestKit.RandomBytes(3 << 20, seed: 21);
        var sending = Task.Run(async () =>
        {
            await s.SendAsync(data);
            await s.CompleteSendAsync();
        });
        var received = await RunOnThreadAsync(() =>
        {
            var all = new MemoryStream();
            var buffer = new byte[100_000];
            while (true)
            {
                Assert.True(r.TryReceiveBlocking(buffer, out int n));
                if (n == 0) return all.ToArray();
                all.Write(buffer, 0, n);
            }
        });
        await sending;
        Assert.Equal(data, received);
        Assert.Equal(data.Length, r.BytesReceived);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AReceiveThatWantsMoreThanThePeerSendsStillGetsWhatCameAndTheEnd(bool unix)
    {
        // The caller says it needs 1 MiB, the peer sends 100 bytes and then nothing (no FIN yet): the
        // receive must not wait for bytes that are not coming (the low-water mark drops after a poll slice).
        var (sender, receiver, _) = await PairAsync(unix);
        await using var s = sender;
        await using var r = receiver;
        var data = TransportTestKit.RandomBytes(100, seed: 5);
        var buffer = new byte[2 << 20];
        var firstReceive = RunOnThreadAsync(() => r.TryReceiveBlocking(buffer, out int n, wakeAtBytes: 1 << 20) ? n : -1);
        await Task.Delay(300); // lets the receive go to sleep with its mark set first (the result must be the same either way)
        await s.SendAsync(data);
        int first = await firstReceive.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(100, first);
        Assert.Equal(data, buffer[..100]);
        // A receive waiting for more than will ever come wakes at the peer's FIN with what did come, then 0.
        var tail = TransportTestKit.RandomBytes(10, seed: 6);
        var receiving = RunOnThreadAsync(() =>
        {
            var got = new List<int>();
            while (r.TryReceiveBlocking(buffer, out int n, wakeAtBytes: 1 << 20) && n > 0) got.Add(n);
            return got.Sum();
        });
        await s.SendAsync(tail);
        await s.CompleteSendAsync();
        Assert.Equal(10, await receiving.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task AReceiveWaitingForAWholeChunkGetsItAllInOrder()
    {
        // 4 MiB in 1 MiB "chunks", each read with wakeAtBytes = the rest of the chunk: every byte arrives once, in order.
        var (sender, receiver, _) = await PairAsync(unix: false);
        await using var s = sender;
        await using var r = receiver;
        var data = TransportTestKit.RandomBytes(4 << 20, seed: 7);
        var sending = Task.Run(async () =>
        {
            for (int off = 0; off < data.Length; off += 64 << 10) await s.SendAsync(data.AsMemory(off, 64 << 10));
            await s.CompleteSendAsync();
        });
        var received = await RunOnThreadAsync(() =>
        {
            var all = new byte[data.Length];
            int filled = 0;
            while (filled < all.Length)
            {
                int chunkEnd = (filled / (1 << 20) + 1) << 20;
                Assert.True(r.TryReceiveBlocking(all.AsSpan(filled, chunkEnd - filled), out int n, wakeAtBytes: chunkEnd - filled));
                Assert.True(n > 0);
                filled += n;
            }
            Assert.True(r.TryReceiveBlocking(new byte[16], out int end));
            Assert.Equal(0, end);
            return all;
        }).WaitAsync(TimeSpan.FromSeconds(120));
        await sending;
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task AResetPeerFailsTheReceiveWithConnectionReset()
    {
        var (sender, receiver, senderSocket) = await PairAsync(unix: false);
        await using var s = sender;
        await using var r = receiver;
        senderSocket.LingerState = new LingerOption(true, 0);
        await s.SendAsync(new byte[1000]);
        s.Abort("the peer goes away");
        var e = await Assert.ThrowsAsync<TransportException>(() => RunOnThreadAsync(() =>
        {
            var buffer = new byte[64 << 10];
            while (r.TryReceiveBlocking(buffer, out int n) && n > 0) { }
            return 0;
        }).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(TransportErrorKind.ConnectionReset, e.Kind);
        // The connection is aborted with that reason: every later receive reports it.
        var again = Assert.Throws<TransportException>(() => r.TryReceiveBlocking(new byte[10], out _));
        Assert.Equal(TransportErrorKind.ConnectionReset, again.Kind);
    }

    [Fact]
    public async Task AnAbortWakesAReceiveBlockedOnASilentPeer()
    {
        var (sender, receiver, _) = await PairAsync(unix: false);
        await using var s = sender;
        await using var r = receiver;
        var receiving = RunOnThreadAsync(() => r.TryReceiveBlocking(new byte[4096], out int n) ? n : -1);
        await Task.Delay(100); // usually blocked in poll by now; an abort before that fails it the same way
        Assert.False(receiving.IsCompleted);
        r.Abort("the test aborts");
        var e = await Assert.ThrowsAsync<TransportException>(() => receiving.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(TransportErrorKind.Aborted, e.Kind);
        Assert.Contains("the test aborts", e.Message);
    }

    [Fact]
    public async Task TheIdleReceiveDeadlineWakesABlockedReceive()
    {
        var idle = new ConnectionSettings(TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan, null);
        var (sender, receiver, _) = await PairAsync(unix: true, idle);
        await using var s = sender;
        await using var r = receiver;
        var e = await Assert.ThrowsAsync<TransportException>(() =>
            RunOnThreadAsync(() => r.TryReceiveBlocking(new byte[4096], out int n) ? n : -1).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(TransportErrorKind.Timeout, e.Kind);
        Assert.Contains("idle receive timeout", e.Message);
    }

    [Fact]
    public async Task ACancellationWakesABlockedReceiveAndAbortsTheConnection()
    {
        var (sender, receiver, _) = await PairAsync(unix: false);
        await using var s = sender;
        await using var r = receiver;
        using var cancel = new CancellationTokenSource();
        var receiving = RunOnThreadAsync(() => r.TryReceiveBlocking(new byte[4096], out int n, cancel.Token) ? n : -1);
        await Task.Delay(50);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiving.WaitAsync(TimeSpan.FromSeconds(30)));
        // As with ReceiveAsync: a stream cannot go on after a cancelled receive.
        Assert.Equal(TransportErrorKind.Aborted, r.AbortReason?.Kind);
    }

    [Fact]
    public async Task AReceiveWindowReadsAStreamThroughBlockingReceives()
    {
        var (sender, receiver, _) = await PairAsync(unix: false);
        await using var s = sender;
        await using var r = receiver;
        using var pool = new PinnedBufferPool(8 << 20, 1 << 20, trackLeaks: true);
        var data = TransportTestKit.RandomBytes(5 << 20, seed: 22);
        var sending = Task.Run(async () =>
        {
            await TransportTestKit.SendAllAsync(s, data, seed: 23, TransportTestKit.Deadline(60));
            await s.CompleteSendAsync();
        });
        var received = await RunOnThreadAsync(() =>
        {
            var all = new MemoryStream();
            var rng = new Random(24);
            using var window = new ReceiveWindow(r, pool, 256 << 10);
            while (true)
            {
                var result = window.ReadAtLeast(rng.Next(1, 700_000));
                foreach (var segment in result.Buffer) all.Write(segment.Span);
                window.Advance(result.Buffer.Length);
                if (result.IsCompleted) return all.ToArray();
            }
        });
        await sending;
        Assert.Equal(data, received);
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task TransportsWithoutABlockingPathDeclineAndReceiveNothing()
    {
        var (a, b) = MemoryConnection.CreatePair("blocking-receive-test");
        await using (a)
        await using (b)
        {
            await a.SendAsync(new byte[100]);
            Assert.False(b.CanReceiveBlocking);
            Assert.False(b.TryReceiveBlocking(new byte[100], out int n));
            Assert.Equal(0, n);
            Assert.Equal(0, b.BytesReceived);
            using var pool = new PinnedBufferPool(4 << 20, 1 << 20);
            using (var window = new ReceiveWindow(b, pool, 64 << 10))
                Assert.Throws<InvalidOperationException>(() => window.ReadAtLeast(1));
            Assert.Equal(0, pool.RentedBytes); // refused before renting a block
            Assert.Equal(100, await b.ReceiveAsync(new byte[100])); // the async path still has every byte
        }
    }

    private static async Task<(SocketConnection Sender, SocketConnection Receiver, Socket SenderSocket)> PairAsync(bool unix, ConnectionSettings? receiverSettings = null)
    {
        EndPoint endPoint = unix
            ? new UnixDomainSocketEndPoint(Path.Combine(Path.GetTempPath(), $"sk-{Guid.NewGuid():N}"[..15] + ".sock"))
            : new IPEndPoint(IPAddress.Loopback, 0);
        var family = unix ? AddressFamily.Unix : AddressFamily.InterNetwork;
        var protocol = unix ? ProtocolType.Unspecified : ProtocolType.Tcp;
        using var listener = new Socket(family, SocketType.Stream, protocol);
        listener.Bind(endPoint);
        listener.Listen(1);
        var client = new Socket(family, SocketType.Stream, protocol);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        if (unix) File.Delete(((UnixDomainSocketEndPoint)endPoint).ToString());
        var kind = unix ? TransportKind.Unix : TransportKind.Tcp;
        return (new SocketConnection(client, kind, ConnectionSettings.Unbounded),
            new SocketConnection(server, kind, receiverSettings ?? ConnectionSettings.Unbounded), client);
    }

    /// <summary>A blocking call on its own thread (as a receive loop makes it), never on the test's pool threads.</summary>
    private static Task<T> RunOnThreadAsync<T>(Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try { done.SetResult(body()); }
            catch (Exception e) { done.SetException(e); }
        }) { IsBackground = true }.Start();
        return done.Task;
    }
}
