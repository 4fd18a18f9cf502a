using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// The receiver's socket channels run their loops on dedicated threads with blocking receives: every
/// channel of a TCP or Unix migration does (the session counts them), the state arrives intact, and a
/// failure in the middle of the stream (a destination write error, met on the loop's own thread when it
/// writes inline) still obeys the failure rule: source RUNNING and intact, destination reset, both typed.
/// </summary>
public sealed class BlockingReceiveLoopTests
{
    [Theory]
    [InlineData("tcp", 1)]
    [InlineData("tcp", 4)]
    [InlineData("unix", 2)]
    public async Task EverySocketChannelLoopRunsOnItsOwnThreadAndTheStateArrivesIntact(string scheme, int channels)
    {
        var (source, destination) = Pair($"sim:profile=bulk,size=8MiB,seed={60 + channels},zero=0.1");
        using (source)
        using (destination)
        {
            ulong digest = source.StateDigest;
            MigrationReceiver? seen = null;
            var outcome = await RunAsync(source, destination, Sender(chunkSize: 64 << 10), Receiver(), scheme == "tcp" ? LoopbackTcp() : TempUnix(), channels,
                started: (_, receiver) => seen = receiver);
            AssertMigrated(outcome, source, destination, digest);
            Assert.Equal(channels, outcome.Received!.Channels);
            Assert.Equal(channels, seen!.Session.ChannelLoopsOnDedicatedThreads);
            Assert.True(seen.Session.ChunksAppliedInline > 0, "no chunk was written by a channel loop itself");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task AWriteErrorMidStreamOnABlockingLoopObeysTheFailureRule(int channels)
    {
        const string spec = "sim:profile=mlx5,size=2MiB,seed=51,chunk=256KiB";
        var (s, d) = Pair(spec, StripFaults(spec) + ",state=blank,write-error=EFAULT,write-error-at=40%");
        using var source = new RecordingDevice(s);
        using var destination = new RecordingDevice(d);
        ulong sourceDigest = s.StateDigest, destinationDigest = d.StateDigest;
        MigrationReceiver? seen = null;
        var outcome = await RunAsync(source, destination, Sender(chunkSize: 64 << 10), Receiver(), LoopbackTcp(), channels,
            started: (_, receiver) => seen = receiver);
        var (sent, received) = AssertFailedCleanly(outcome, s, sourceDigest, d, destinationDigest);
        Assert.True(RecordingDevice.OnlyGenuineBytes(source, destination, out string detail), detail);
        Assert.Equal(StreamErrorCode.DeviceRejected, received.Code);
        Assert.Equal(MigrationFailureOrigin.DestinationDevice, received.Origin);
        Assert.Contains("EFAULT", received.Reason);
        Assert.Equal(StreamErrorCode.DeviceRejected, sent.PeerCode);
        Assert.Equal(channels, seen!.Session.ChannelLoopsOnDedicatedThreads);
    }
}
