using System.Diagnostics;
using StreamKit.Transport;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

public class TokenBucketTests
{
    [Fact]
    public void ReservationsBeyondTheBurstWaitForTheirDebt()
    {
        var bucket = new TokenBucket(bytesPerSecond: 1_000_000, burst: 100_000);
        Assert.Equal(TimeSpan.Zero, bucket.Reserve(100_000));
        var wait = bucket.Reserve(500_000);
        // 500 KB of debt at 1 MB/s: about half a second (less whatever refilled since the first call).
        Assert.InRange(wait.TotalMilliseconds, 400, 501);
    }

    [Fact]
    public async Task SendRateStaysBelowTheLimit()
    {
        var ct = Deadline(30);
        const long rate = 4 << 20, burst = 256 << 10, total = 2 << 20;
        var options = new TransportOptions { BandwidthLimit = rate, BandwidthBurst = burst };
        var (a, b) = MemoryConnection.CreatePair(settings: ConnectionSettings.From(options, ConnectionSettings.CreateBucket(options)));
        await using (a)
        await using (b)
        {
            var draining = Task.Run(async () =>
            {
                var sink = new byte[1 << 20];
                while (await b.ReceiveAsync(sink, ct) > 0) { }
            }, ct);
            var chunk = new byte[64 << 10];
            var clock = Stopwatch.StartNew();
            for (long sent = 0; sent < total; sent += chunk.Length) await a.SendAsync(new byte[48], chunk, ct);
            var elapsed = clock.Elapsed;
            await a.CompleteSendAsync(ct);
            await draining;

            long bytes = total + (total / chunk.Length) * 48;
            // From a full bucket, at most burst + rate × t bytes can have gone: t ≥ (bytes − burst) / rate.
            var floor = TimeSpan.FromSeconds((double)(bytes - burst) / rate);
            Assert.True(elapsed >= floor * 0.95, $"{bytes} bytes took {elapsed}, the limit allows no less than {floor}");
            // Generous ceiling: the limiter must not be wildly slower than the rate either.
            Assert.True(elapsed < floor * 4 + TimeSpan.FromSeconds(3), $"{bytes} bytes took {elapsed}; expected about {floor}");
        }
    }

    [Fact]
    public async Task ChannelsOfOneStreamShareTheLimit()
    {
        var ct = Deadline(30);
        const long rate = 4 << 20, burst = 128 << 10, perChannel = 1 << 20;
        var options = new TransportOptions { BandwidthLimit = rate, BandwidthBurst = burst };
        var (sender, receiver) = await OpenAsync(LoopbackTcp(2), null, ct, senderOptions: options);
        await using (sender)
        await using (receiver)
        {
            var drains = receiver.Channels.Select(c => Task.Run(async () =>
            {
                var sink = new byte[1 << 20];
                long got = 0;
                while (got < perChannel) got += await c.ReceiveAsync(sink, ct);
            }, ct)).ToArray();
            var clock = Stopwatch.StartNew();
            var sends = sender.Channels.Select(c => Task.Run(async () =>
            {
                var chunk = new byte[64 << 10];
                for (long sent = 0; sent < perChannel; sent += chunk.Length) await c.SendAsync(chunk, ct);
            }, ct)).ToArray();
            await Task.WhenAll(sends);
            var elapsed = clock.Elapsed;
            await Task.WhenAll(drains);
            // The preambles (64 B each) went through the bucket before the clock started.
            var floor = TimeSpan.FromSeconds((double)(2 * perChannel - burst) / rate);
            Assert.True(elapsed >= floor * 0.95, $"2 channels x {perChannel} bytes took {elapsed}; one shared limit allows no less than {floor}");
        }
    }

    [Fact]
    public async Task ThrottledSendIsCancellable()
    {
        var options = new TransportOptions { BandwidthLimit = 1000, BandwidthBurst = 1000 };
        var (a, b) = MemoryConnection.CreatePair(settings: ConnectionSettings.From(options, ConnectionSettings.CreateBucket(options)));
        await using (a)
        await using (b)
        {
            await a.SendAsync(new byte[1000]);
            using var cancel = new CancellationTokenSource(100);
            var clock = Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await a.SendAsync(new byte[1_000_000], cancel.Token));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "a 1000 s throttle wait must end at cancellation");
        }
    }
}
