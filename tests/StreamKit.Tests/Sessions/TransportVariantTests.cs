using System.Diagnostics.Metrics;
using System.Security.Cryptography.X509Certificates;
using StreamKit.Device;
using StreamKit.Tests.Transport;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>The same migration over every transport the connection layer offers.</summary>
public class TransportVariantTests
{
    [Fact]
    public async Task MigratesOverUnixSockets()
    {
        var (source, destination) = Pair("sim:profile=mlx5,size=2MiB,seed=31,zero=0.1");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(), Receiver(), TempUnix());
            AssertMigrated(outcome, source, destination, digest);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task StripesChunksOverSeveralTcpChannels(int channels)
    {
        var (source, destination) = Pair($"sim:profile=bulk,size=8MiB,seed={32 + channels},zero=0.1");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(chunkSize: 64 << 10), Receiver(), LoopbackTcp(), channels);
            AssertMigrated(outcome, source, destination, digest);
            Assert.Equal(channels, outcome.Sent!.Channels);
            Assert.Equal(channels, outcome.Received!.Channels);
        }
    }

    [Fact]
    public async Task SmallReceiveWindowBoundsReassemblyAndStillCompletes()
    {
        // 1 MiB window, 3 channels of 256 KiB chunks: the sender must wait for WINDOW reports all the time.
        var (source, destination) = Pair("sim:profile=bulk,size=8MiB,seed=35");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            MigrationReceiver? seen = null;
            var outcome = await RunAsync(source, destination, Sender(chunkSize: 256 << 10), Receiver(cap: 1 << 20), LoopbackTcp(), channels: 3,
                started: (_, receiver) => seen = receiver);
            AssertMigrated(outcome, source, destination, digest);
            Assert.InRange(seen!.Session.Store!.Peak, 0, 1 << 20);
        }
    }

    [Fact]
    public async Task SavesToAFileAndRestoresFromIt()
    {
        string path = TempFile();
        try
        {
            var (source, destination) = Pair("sim:profile=mlx5,size=2MiB,seed=36,zero=0.3");
            using (source)
            using (destination)
            {
                ulong digest = source.StateDigest;
                await using (var sender = new MigrationSender(Sender()))
                {
                    sender.AddDevice(1, source);
                    var saved = await sender.RunAsync(TransportAddress.File(path), Deadline());
                    Assert.False(Assert.Single(saved.Devices).Committed); // a file has no FINAL_ACK
                }
                Assert.Equal(MigrationState.Stop, source.GetState());
                // The file is a valid stream for any reader.
                var summary = StreamValidator.Verify([new System.Buffers.ReadOnlySequence<byte>(File.ReadAllBytes(path))]);
                Assert.True(summary.IsComplete);
                Assert.Equal(StreamCapabilities.PrecopyHints, summary.Capabilities); // no return path, no switchover ack

                await using var receiver = new MigrationReceiver(Receiver());
                receiver.AddDevice(1, destination);
                Assert.Null(await receiver.ListenAsync(TransportAddress.File(path)));
                var restored = await receiver.RunAsync(Deadline());
                Assert.True(Assert.Single(restored.Devices).Committed);
                Assert.Equal(digest, destination.StateDigest);
                Assert.Equal(MigrationState.Running, destination.GetState());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task MigratesOverMutualTls()
    {
        var certs = TestCertificates.Get();
        var serverTls = new TransportTlsOptions { Certificate = certs.Server, TrustedAuthorities = [certs.Ca], RequireClientCertificate = true };
        var clientTls = new TransportTlsOptions { Certificate = certs.Client, TrustedAuthorities = [certs.Ca], TargetHost = "localhost" };
        var (source, destination) = Pair("sim:profile=mlx5,size=2MiB,seed=37");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(transport: FastTransport(clientTls)), Receiver(FastTransport(serverTls)), LoopbackTcp(), channels: 2);
            AssertMigrated(outcome, source, destination, digest);
        }
    }

    [Fact]
    public async Task Lz4CompressesCompressibleStateAndTheDestinationMatches()
    {
        var (source, destination) = Pair("sim:profile=mtty,seed=38"); // tiny; then a bigger device below
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(PayloadCompression.Lz4), Receiver(), LoopbackTcp());
            AssertMigrated(outcome, source, destination, digest);
        }
        // Bulk pages copy bytes from a small random pool: LZ4 finds the repeats.
        var (bulk, bulkDestination) = Pair("sim:profile=bulk,size=4MiB,seed=39");
        using (bulk)
        using (bulkDestination)
        {
            ulong digest = bulk.StateDigest;
            var outcome = await RunAsync(bulk, bulkDestination, Sender(PayloadCompression.Lz4), Receiver(), LoopbackTcp(), channels: 2);
            AssertMigrated(outcome, bulk, bulkDestination, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            Assert.True(sent.WireBytes < sent.PrecopyBytes + sent.StopCopyBytes, $"LZ4 saved nothing: {sent.WireBytes} wire bytes for {sent.PrecopyBytes + sent.StopCopyBytes} raw");
        }
    }

    [Fact]
    public async Task ZeroHeavyStateTravelsAsZeroRuns()
    {
        // 90 % zero pages; the bulk stream puts a 32-byte run header every 16 pages, so 4 KiB reads
        // are all-zero about two times in three and travel as header-only ZERO_RUN chunks.
        var (source, destination) = Pair("sim:profile=bulk,size=4MiB,seed=40,zero=0.9");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(chunkSize: 4096), Receiver(), LoopbackTcp(), channels: 2);
            AssertMigrated(outcome, source, destination, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            long raw = sent.PrecopyBytes + sent.StopCopyBytes;
            Assert.True(sent.ZeroBytes > raw * 4 / 10, sent.ToString());
            Assert.True(sent.WireBytes < raw * 6 / 10, sent.ToString());
            Assert.Equal(sent.ZeroBytes, Assert.Single(outcome.Received!.Devices).ZeroBytes);
        }
    }

    [Theory]
    [InlineData(PayloadCompression.None, 1 << 20, 1)]
    [InlineData(PayloadCompression.None, 64 << 10, 2)]
    [InlineData(PayloadCompression.Lz4, 1 << 20, 2)]
    public async Task HalfZeroReadsSplitIntoDataAndZeroRunSegments(PayloadCompression compression, int chunkSize, int channels)
    {
        // Half the pages zero, big reads: each read mixes data and zero runs, so SendData packs several
        // DATA and ZERO_RUN chunks into one buffer, moving data segments down over the elided zeros.
        var (source, destination) = Pair("sim:profile=bulk,size=16MiB,seed=44,zero=0.5");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(compression, chunkSize: chunkSize), Receiver(), LoopbackTcp(), channels);
            AssertMigrated(outcome, source, destination, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            var received = Assert.Single(outcome.Received!.Devices);
            long raw = sent.PrecopyBytes + sent.StopCopyBytes;
            // Runs of whole zero pages are ~half the state; a run that straddles a 32-byte run header is cut by it.
            Assert.InRange(sent.ZeroBytes, raw * 35 / 100, raw * 55 / 100);
            Assert.Equal(sent.ZeroBytes, received.ZeroBytes);
            // More chunks than reads: the reads were split.
            Assert.True(sent.Chunks > raw / chunkSize * 2, sent.ToString());
            Assert.True(sent.WireBytes < raw - sent.ZeroBytes + sent.Chunks * 64L, sent.ToString());
        }
    }

    [Fact]
    public async Task MigratesSeveralDevicesTogetherThroughP2P()
    {
        var (a, aDestination) = Pair("sim:profile=mlx5,size=2MiB,seed=41");
        var (b, bDestination) = Pair("sim:profile=hisi,size=1MiB,seed=42");
        var (c, cDestination) = Pair("sim:profile=bulk,size=1MiB,seed=43,precopy=false");
        using (a) using (aDestination) using (b) using (bDestination) using (c) using (cDestination)
        {
            ulong da = a.StateDigest, db = b.StateDigest, dc = c.StateDigest;
            var outcome = await RunAsync([(1, a, aDestination), (2, b, bDestination), (7, c, cDestination)], Sender(), Receiver(), LoopbackTcp(), channels: 2);
            Assert.Null(outcome.SendError);
            Assert.Null(outcome.ReceiveError);
            Assert.Equal(da, aDestination.StateDigest);
            Assert.Equal(db, bDestination.StateDigest);
            Assert.Equal(dc, cDestination.StateDigest);
            // Every device went through its P2P state before any was stopped (QEMU's multi-device rule).
            foreach (var device in new[] { a, b, c })
            {
                var arcs = device.Arcs;
                int firstStop = arcs.ToList().FindIndex(x => x.To is MigrationState.StopCopy or MigrationState.Stop);
                Assert.Contains(arcs.Take(firstStop), x => x.To is MigrationState.RunningP2P or MigrationState.PreCopyP2P);
            }
            Assert.Equal(3, outcome.Received!.Devices.Count);
        }
    }

    [Fact]
    public async Task BandwidthLimitSlowsTheStreamAndMetricsCountIt()
    {
        long chunks = 0, bytes = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == "StreamKit.Migration") l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "side" && (string?)tag.Value == "sender")
                {
                    if (instrument.Name == "streamkit.migration.chunks") Interlocked.Add(ref chunks, value);
                    if (instrument.Name == "streamkit.migration.device_bytes") Interlocked.Add(ref bytes, value);
                }
        });
        listener.Start();
        var (source, destination) = Pair("sim:profile=bulk,size=2MiB,seed=44");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var limited = FastTransport() is var t ? new TransportOptions
            {
                ConnectTimeout = t.ConnectTimeout, HandshakeTimeout = t.HandshakeTimeout, IdleReceiveTimeout = t.IdleReceiveTimeout,
                SendTimeout = t.SendTimeout, BandwidthLimit = 4 << 20, BandwidthBurst = 256 << 10,
            } : null;
            var outcome = await RunAsync(source, destination, Sender(transport: limited), Receiver(), LoopbackTcp());
            AssertMigrated(outcome, source, destination, digest);
            // 2 MiB at 4 MiB/s with a 256 KiB burst takes at least ~0.4 s.
            Assert.True(outcome.Sent!.Elapsed >= TimeSpan.FromMilliseconds(350), $"took {outcome.Sent.Elapsed}");
            listener.RecordObservableInstruments();
            Assert.True(Interlocked.Read(ref bytes) >= 2 << 20);
            Assert.True(Interlocked.Read(ref chunks) >= outcome.Sent.Devices[0].Chunks);
        }
    }
}
