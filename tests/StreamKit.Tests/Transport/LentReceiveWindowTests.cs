using System.Buffers;
using System.Runtime.InteropServices;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>
/// The receive window over a transport that lends its receive buffers (RDMA's shape, through
/// <see cref="LendingLoopbackConnection"/>): chunks parsed, checked and "written" from the transport's
/// own buffers; the lending budget's copy fallback when a chunk spans more messages than there are
/// credits or leases hold the budget; buffers returned only after every holder released them.
/// </summary>
public class LentReceiveWindowTests
{
    [Fact]
    public async Task ChunksAreParsedVerifiedAndWrittenFromTheTransportsBuffers()
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(maxBytes: 1 << 20, maxBlockSize: 64 << 10, trackLeaks: true);
        var rng = new Random(51);
        var chunks = Enumerable.Range(0, 300).Select(i => RandomBytes(i % 7 == 0 ? 0 : rng.Next(1, 16 << 10), 500 + i)).ToList();
        var device = new MemoryStream();
        long sent = chunks.Sum(c => ChunkHeader.Size + (long)c.Length);
        var connection = new LendingLoopbackConnection(buffers: 4, messageSize: ChunkHeader.Size + (16 << 10));
        await using (connection)
        {
            var sending = SendDataChunksAsync(connection, chunks, ct);
            using (var window = new ReceiveWindow(connection, pool, blockSize: 64 << 10, maxReadAhead: 256 << 10))
            {
                while (await ReadChunkAsync(window, ct) is var (payload, lease))
                {
                    foreach (var segment in payload)
                    {
                        Assert.True(MemoryMarshal.TryGetArray(segment, out var array) && connection.IsReceiveBuffer(array.Array),
                            "a payload byte was read from a copy, not from the transport's receive buffer");
                        device.Write(segment.Span);
                    }
                    lease.Release();
                }
            }
            await sending;
            // One message per chunk, each released before the next is needed: never near the budget, nothing copied.
            Assert.Equal(sent, connection.InPlaceBytes);
            Assert.Equal(0, connection.CopiedBytes);
            Assert.Equal(sent, connection.BytesReceived);
            Assert.Equal(0, connection.Lender.Outstanding);
            Assert.Equal(4, connection.FreeCredits);
        }
        Assert.Equal(chunks.SelectMany(c => c).ToArray(), device.ToArray());
        pool.AssertNoLeaks();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public async Task ChunksLargerThanEveryReceiveBufferTogetherCompleteThroughTheCopyFallback(int buffers)
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(maxBytes: 2 << 20, maxBlockSize: 64 << 10, trackLeaks: true);
        // 4 KiB messages: a 100 KiB chunk spans 25+ of them, far more than the credits. Lending them all
        // would leave the sender without a credit for the rest of the chunk: a hang.
        var chunks = Enumerable.Range(0, 6).Select(i => RandomBytes(100_000 + 977 * i, 700 + i)).ToList();
        long sent = chunks.Sum(c => ChunkHeader.Size + (long)c.Length);
        var device = new MemoryStream();
        var connection = new LendingLoopbackConnection(buffers, messageSize: 4096);
        await using (connection)
        {
            var sending = SendDataChunksAsync(connection, chunks, ct);
            using (var window = new ReceiveWindow(connection, pool, blockSize: 64 << 10, maxReadAhead: 256 << 10))
            {
                while (await ReadChunkAsync(window, ct) is var (payload, lease))
                {
                    Assert.True(connection.Lender.Outstanding <= connection.Lender.Limit, $"{connection.Lender.Outstanding} buffers lent, budget {connection.Lender.Limit}");
                    foreach (var segment in payload) device.Write(segment.Span);
                    lease.Release();
                }
            }
            await sending;
            Assert.Equal(SegmentLender.LimitFor(buffers), connection.Lender.Limit);
            Assert.True(connection.CopiedBytes > 0, "the fallback never copied");
            Assert.Equal(sent, connection.InPlaceBytes + connection.CopiedBytes);
            if (connection.Lender.Limit > 0) Assert.True(connection.InPlaceBytes > 0, "nothing was lent");
            else Assert.Equal(0, connection.InPlaceBytes);
            Assert.Equal(0, connection.Lender.Outstanding);
            Assert.Equal(buffers, connection.FreeCredits);
        }
        Assert.Equal(chunks.SelectMany(c => c).ToArray(), device.ToArray());
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task LeasesHoldingTheBudgetMakeTheWindowCopyUntilTheyAreReleased()
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(maxBytes: 2 << 20, maxBlockSize: 64 << 10, trackLeaks: true);
        var chunks = Enumerable.Range(0, 12).Select(i => RandomBytes(10_000, 900 + i)).ToList();
        long perChunk = ChunkHeader.Size + 10_000L;
        var connection = new LendingLoopbackConnection(buffers: 4, messageSize: 16 << 10);
        await using (connection)
        {
            var sending = SendDataChunksAsync(connection, chunks, ct);
            using var window = new ReceiveWindow(connection, pool, blockSize: 64 << 10, maxReadAhead: 256 << 10);
            var held = new List<(ReadOnlySequence<byte> Payload, BufferLease Lease)>();
            // A device writer that lags: its queued chunks' leases keep their messages (3 = the budget of 4 credits).
            for (int i = 0; i < 3; i++) held.Add((await ReadChunkAsync(window, ct))!.Value);
            Assert.Equal(3, connection.Lender.Outstanding);
            Assert.False(connection.Lender.CanLend);
            Assert.Equal(3 * perChunk, connection.InPlaceBytes);

            // The fourth credit keeps circulating: later chunks arrive, copied into pooled blocks.
            for (int i = 3; i < 8; i++)
            {
                var (payload, lease) = (await ReadChunkAsync(window, ct))!.Value;
                Assert.Equal(chunks[i], payload.ToArray());
                lease.Release();
            }
            Assert.Equal(5 * perChunk, connection.CopiedBytes);
            Assert.Equal(3 * perChunk, connection.InPlaceBytes);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(chunks[i], held[i].Payload.ToArray()); // intact: no lent buffer was re-posted under its lease
                held[i].Lease.Release();
            }
            Assert.Equal(0, connection.Lender.Outstanding);

            // Budget back: in place again.
            while (await ReadChunkAsync(window, ct) is var (rest, restLease)) restLease.Release();
            await sending;
            Assert.Equal(7 * perChunk, connection.InPlaceBytes);
            Assert.Equal(5 * perChunk, connection.CopiedBytes);
        }
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task ALeaseOutlivesTheWindowAndTheConnectionAndReleasesOnce()
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(maxBytes: 1 << 20, maxBlockSize: 64 << 10, trackLeaks: true);
        var chunk = RandomBytes(3000, 77);
        var connection = new LendingLoopbackConnection(buffers: 4, messageSize: 8192);
        (ReadOnlySequence<byte> Payload, BufferLease Lease) held;
        await using (connection)
        {
            await SendDataChunksAsync(connection, [chunk], ct);
            using var window = new ReceiveWindow(connection, pool, blockSize: 64 << 10);
            held = (await ReadChunkAsync(window, ct))!.Value;
            Assert.Equal(1, connection.Lender.Outstanding);
        }
        Assert.Equal(chunk, held.Payload.ToArray());
        Assert.Equal(1, connection.Lender.Outstanding);
        held.Lease.Release();
        Assert.Equal(0, connection.Lender.Outstanding);
        Assert.Throws<InvalidOperationException>(() => held.Lease.Release());
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task RandomSendsAndReadsWithHeldLeasesAreByteExactOverLentBuffers()
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(maxBytes: 8 << 20, maxBlockSize: 64 << 10, trackLeaks: true);
        var data = RandomBytes(3_000_000, 61);
        var connection = new LendingLoopbackConnection(buffers: 4, messageSize: 16 << 10);
        await using (connection)
        {
            // Sends of random shapes (messages cut anywhere), reads of up to 400 KB (25 messages) with leases kept across advances.
            var sending = Task.Run(async () =>
            {
                await SendAllAsync(connection, data, 62, ct);
                await connection.CompleteSendAsync(ct);
            }, ct);
            await ReceiveAllAsync(connection, pool, data, 63, ct);
            await sending;
            Assert.True(connection.InPlaceBytes > 0 && connection.CopiedBytes > 0, $"in place {connection.InPlaceBytes}, copied {connection.CopiedBytes}");
            Assert.Equal(data.Length, connection.InPlaceBytes + connection.CopiedBytes);
            Assert.Equal(data.Length, connection.BytesReceived);
            Assert.Equal(0, connection.Lender.Outstanding);
            Assert.Equal(4, connection.FreeCredits);
        }
        pool.AssertNoLeaks();
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 3)]
    [InlineData(8, 6)]
    [InlineData(16, 12)]
    public void TheLendingBudgetAlwaysLeavesTheSenderACredit(int credits, int limit)
    {
        Assert.Equal(limit, SegmentLender.LimitFor(credits));
        Assert.True(limit < credits);
    }
}
