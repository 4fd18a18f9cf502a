using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// A source device reset during pre-copy costs only that device's epoch: DISCARD, the destination
/// resets and resumes again, the migration goes on, and the destination ends with the source's state.
/// </summary>
public class DiscardTests
{
    [Theory]
    [InlineData("sim:profile=mlx5,size=4MiB,seed=21,chunk=256KiB,reset-at=0", 1, 1)]         // the very first read finds the session dead
    [InlineData("sim:profile=mlx5,size=4MiB,seed=22,chunk=256KiB,reset-at=50%", 1, 1)]       // in the middle of the initial image
    [InlineData("sim:profile=mlx5,size=4MiB,seed=23,chunk=256KiB,reset-at=30%,repeat=2", 2, 1)] // twice in a row
    [InlineData("sim:profile=bulk,size=4MiB,seed=24,zero=0.3,reset-at=60%", 1, 2)]           // two channels: stale chunks overtaken by the DISCARD
    [InlineData("sim:profile=mlx5,size=4MiB,seed=25,chunk=256KiB,reset-at=40%,repeat=2", 2, 3)]
    public async Task ResetDuringPrecopyIsDiscardedAndTheMigrationSucceeds(string spec, int expectedDiscards, int channels)
    {
        var (source, destination) = Pair(spec);
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            // Switchover once every expected reset happened: an automatic one may come first when pre-copy converges
            // before the next session reaches its reset point (dirty pages are generated in time, so that is load-dependent).
            var outcome = await RunAsync(source, destination, Sender(mode: SwitchoverMode.Manual), Receiver(), LoopbackTcp(), channels,
                started: (sender, receiver) => _ = Task.Run(async () =>
                {
                    var giveUp = DateTime.UtcNow.AddSeconds(60); // the run's own deadline fails the test first
                    while ((sender.GetProgress().Devices is not [{ Discards: var d }] || d < expectedDiscards) && DateTime.UtcNow < giveUp) await Task.Delay(5);
                    sender.RequestSwitchover();
                }));
            AssertMigrated(outcome, source, destination, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            var received = Assert.Single(outcome.Received!.Devices);
            Assert.Equal(expectedDiscards, sent.Discards);
            Assert.Equal(expectedDiscards, source.ResetCount);
            Assert.True(spec.Contains("reset-at=0") || sent.DiscardedBytes > 0, "the discarded epochs carried data");
            // On one channel the receiver applies every DISCARD. On several, a newer DISCARD may overtake an older one
            // on another channel and void it (spec §5.3): the older one is then dropped as stale, never applied.
            if (channels == 1) Assert.Equal(expectedDiscards, received.Discards);
            else Assert.InRange(received.Discards, 1, expectedDiscards);
            Assert.Equal(received.Discards, destination.ResetCount); // one reset per applied DISCARD
        }
    }

    [Fact]
    public async Task ResetJustBeforeSwitchoverIsDiscardedAndTheMigrationSucceeds()
    {
        var (source, destination) = Pair("sim:profile=mlx5,size=2MiB,seed=26,chunk=256KiB");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(mode: SwitchoverMode.Manual), Receiver(), LoopbackTcp(), started: (sender, receiver) =>
            {
                _ = Task.Run(async () =>
                {
                    // Wait until the initial image is through (pre-copy converged), reset the source, switch over at once.
                    while (sender.GetProgress() is var p && !(p.Phase == MigrationPhase.PreCopy && p.Devices[0].PrecopyBytes > 0 && p.Devices[0].PendingPrecopyBytes == 0))
                        await Task.Delay(5);
                    await Task.Delay(50);
                    source.Reset();
                    sender.RequestSwitchover();
                });
            });
            AssertMigrated(outcome, source, destination, digest);
            var sent = Assert.Single(outcome.Sent!.Devices);
            Assert.Equal(1, sent.Discards);
            Assert.Equal(1, Assert.Single(outcome.Received!.Devices).Discards);
        }
    }

    [Theory]
    [InlineData("sim:profile=bulk,size=4MiB,seed=27,precopy=false,reset-at=50%", 1)] // all data is stop-copy data
    [InlineData("sim:profile=hisi,size=2MiB,seed=28,reset-at=50%", 2)]                 // hisi: pre-copy is the match data only
    public async Task ResetDuringStopCopyFailsTheMigrationCleanly(string spec, int channels)
    {
        var (source, destination) = Pair(spec);
        using (source)
        using (destination)
        {
            ulong sourceDigest = source.StateDigest, destinationDigest = destination.StateDigest;
            var outcome = await RunAsync(source, destination, Sender(), Receiver(), LoopbackTcp(), channels);
            var (s, r) = AssertFailedCleanly(outcome, source, sourceDigest, destination, destinationDigest);
            Assert.Equal(StreamErrorCode.SourceDeviceFailed, s.Code);
            Assert.Equal(MigrationFailureOrigin.SourceDevice, s.Origin);
            Assert.True(r.Code == StreamErrorCode.PeerAborted, r.Message);
            Assert.Equal(StreamErrorCode.SourceDeviceFailed, r.PeerCode);
            Assert.Contains("STOP_COPY", s.Reason);
        }
    }
}
