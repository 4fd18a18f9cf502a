using StreamKit.Device;
using StreamKit.Transport;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>End-to-end migrations of simulated devices over real transports.</summary>
public class MigrationBasicTests
{
    [Fact]
    public async Task MigratesOneDeviceOverTcp()
    {
        var (source, destination) = Pair("sim:profile=mlx5,size=4MiB,seed=1,zero=0.2");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(), Receiver(), LoopbackTcp());
            AssertMigrated(outcome, source, destination, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            var received = Assert.Single(outcome.Received!.Devices);
            Assert.True(sent.PrecopyBytes > 3 << 20, $"pre-copy carried {sent.PrecopyBytes} bytes");
            Assert.Equal(sent.PrecopyBytes, received.PrecopyBytes);
            Assert.Equal(sent.StopCopyBytes, received.StopCopyBytes);
            Assert.Equal(0, sent.Discards);
            Assert.Equal(1, outcome.Sent.Channels);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HalfZeroPagesArriveAsZeroRunsAndTheDeviceGetsEveryZeroByte(bool recorded)
    {
        // Half the pages zero, 2 TCP channels: the wire carries about half the bytes, and the destination
        // gets the whole state: through the simulator's zero fast path (plain), or as zero bytes written
        // through Write (a recording wrapper has no WriteZeros: the interface default), byte for byte the
        // stream the source read.
        var (s, d) = Pair("sim:profile=bulk,size=8MiB,seed=31,zero=0.5");
        using (s)
        using (d)
        {
            ulong digest = s.StateDigest;
            var source = new RecordingDevice(s);
            var destination = new RecordingDevice(d);
            var outcome = recorded
                ? await RunAsync(source, destination, Sender(), Receiver(), LoopbackTcp(), channels: 2)
                : await RunAsync(s, d, Sender(), Receiver(), LoopbackTcp(), channels: 2);
            AssertMigrated(outcome, s, d, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            var received = Assert.Single(outcome.Received!.Devices);
            long deviceBytes = sent.PrecopyBytes + sent.StopCopyBytes;
            Assert.InRange(sent.ZeroBytes, deviceBytes / 3, deviceBytes * 2 / 3);
            Assert.Equal(sent.ZeroBytes, received.ZeroBytes);
            Assert.Equal(deviceBytes, received.PrecopyBytes + received.StopCopyBytes);
            Assert.True(sent.WireBytes < deviceBytes * 2 / 3, $"wire {sent.WireBytes} of {deviceBytes} device bytes");
            if (recorded)
            {
                var read = source.Sessions.Single();
                var written = destination.Sessions.Single();
                Assert.True(read.AsSpan().SequenceEqual(written), $"destination got {written.Length} bytes, source read {read.Length}");
            }
        }
    }

    [Fact]
    public async Task KeepalivesHoldAnIdleStreamOpenPastTheIdleTimeout()
    {
        // Manual switchover: after the initial image nothing flows for 4.5 s, over twice the 2 s idle
        // timeout of both sides; PADDING in both directions keeps the stream alive.
        var (source, destination) = Pair("sim:profile=mlx5,size=1MiB,seed=2");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var phases = new System.Collections.Concurrent.ConcurrentBag<MigrationPhase>();
            var transport = FailureRuleTests.QuickTimeouts();
            var outcome = await RunAsync(source, destination, Sender(mode: SwitchoverMode.Manual, transport: transport), Receiver(transport), LoopbackTcp(),
                started: (sender, _) =>
                {
                    sender.ProgressChanged += p => phases.Add(p.Phase);
                    Task.Run(async () =>
                    {
                        await Task.Delay(4500);
                        Assert.True(await sender.RequestSwitchoverAsync()); // true: it waited for SWITCHOVER_ACK
                    });
                });
            AssertMigrated(outcome, source, destination, digest);
            Assert.True(outcome.Sent!.Elapsed >= TimeSpan.FromSeconds(4.5));
            Assert.Contains(MigrationPhase.PreCopy, phases);
            Assert.Contains(MigrationPhase.Completed, phases);
        }
    }
}
