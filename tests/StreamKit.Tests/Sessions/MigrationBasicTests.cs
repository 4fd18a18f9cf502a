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
}
