using System.Buffers;
using System.Buffers.Binary;
using System.Threading.Channels;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>
/// The receive seam as the session will use it: chunks parsed in place, payloads leased to a device
/// writer on another thread, blocks returned only after the "device write".
/// </summary>
public class ReceiveWindowTests
{
    [Fact]
    public async Task ChunksParsedInPlaceAndWrittenByAnotherThreadAreByteExact()
    {
        var ct = Deadline();
        // A small pool (8 x 64 KiB) forces back-pressure: the receiver waits for the writer's releases.
        using var pool = new PinnedBufferPool(maxBytes: 512 << 10, maxBlockSize: 64 << 10, trackLeaks: true);
        var (a, b) = MemoryConnection.CreatePair(bufferBytes: 128 << 10);
        var rng = new Random(31);
        var chunks = Enumerable.Range(0, 200).Select(i => RandomBytes(rng.Next(0, 150_000), 100 + i)).ToList();
        var device = new MemoryStream();

        await using (a)
        await using (b)
        {
            var sending = SendDataChunksAsync(a, chunks, ct);

            var toDevice = Channel.CreateBounded<(ReadOnlySequence<byte> Payload, BufferLease Lease)>(4);
            var writer = Task.Run(async () =>
            {
                await foreach (var (payload, lease) in toDevice.Reader.ReadAllAsync(ct))
                {
                    foreach (var segment in payload) device.Write(segment.Span);
                    lease.Release();
                }
            }, ct);

            using (var window = new ReceiveWindow(b, pool, blockSize: 64 << 10, maxReadAhead: 256 << 10))
            {
                while (await ReadChunkAsync(window, ct) is var (payload, lease))
                    await toDevice.Writer.WriteAsync((payload, lease), ct);
            }
            toDevice.Writer.Complete();
            await Task.WhenAll(sending, writer);
        }
        Assert.Equal(chunks.SelectMany(c => c).ToArray(), device.ToArray());
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task LeasedBytesSurviveAdvanceAndLaterReceives()
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(maxBytes: 4 << 20, maxBlockSize: 64 << 10, trackLeaks: true);
        var (a, b) = MemoryConnection.CreatePair();
        await using (a)
        await using (b)
        {
            var first = RandomBytes(100_000, 41);
            var second = RandomBytes(300_000, 42);
            await a.SendAsync(first, ct);
            using var window = new ReceiveWindow(b, pool, blockSize: 64 << 10);
            var r = await window.ReadAtLeastAsync(first.Length, ct);
            var slice = r.Buffer.Slice(0, first.Length);
            Assert.True(slice.IsSingleSegment == false, "100 KB over 64 KiB blocks spans blocks");
            var lease = window.Lease(slice);
            window.Advance(first.Length);
            await a.SendAsync(second, ct);
            r = await window.ReadAtLeastAsync(second.Length, ct);
            AssertSame(second, 0, r.Buffer.Slice(0, second.Length));
            window.Advance(second.Length);
            AssertSame(first, 0, slice); // still intact: the lease kept its blocks out of the pool
            lease.Release();
            Assert.Throws<InvalidOperationException>(() => lease.Release());
        }
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task ReadsLargerThanTheReadAheadLimitAreRefused()
    {
        using var pool = new PinnedBufferPool(maxBytes: 4 << 20, maxBlockSize: 64 << 10);
        var (a, b) = MemoryConnection.CreatePair();
        await using (a)
        await using (b)
        {
            using var window = new ReceiveWindow(b, pool, blockSize: 64 << 10, maxReadAhead: 1 << 20);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await window.ReadAtLeastAsync((1 << 20) + 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => window.Advance(1));
        }
    }
}
