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
