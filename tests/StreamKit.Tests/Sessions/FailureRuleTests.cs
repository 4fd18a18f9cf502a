using System.Net;
using StreamKit.Device;
using StreamKit.Tests.Transport;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// The failure rule, case by case: whatever breaks, the source devices end RUNNING with their state,
/// the destination devices are reset to their previous state, both sides throw a typed
/// <see cref="MigrationException"/> saying why, and no byte that was not verified reached a device.
/// </summary>
public class FailureRuleTests
{
    private const string Spec = "sim:profile=mlx5,size=2MiB,seed=51,chunk=256KiB";
    private const string SlowSpec = "sim:profile=bulk,size=4MiB,seed=53,slow-read=3ms";

    /// <summary>Source and destination wrapped in recorders, plus their digests before the attempt.</summary>
    private sealed class Devices : IDisposable
    {
        public Devices(string sourceSpec, string? destinationSpec = null)
        {
            var (s, d) = Pair(sourceSpec, destinationSpec);
            Source = new RecordingDevice(s);
            Destination = new RecordingDevice(d);
            SourceDigest = s.StateDigest;
            DestinationDigest = d.StateDigest;
        }

        public RecordingDevice Source { get; }
        public RecordingDevice Destination { get; }
        public ulong SourceDigest { get; }
        public ulong DestinationDigest { get; }

        public (MigrationException Sender, MigrationException Receiver) AssertFailedCleanly(Outcome outcome)
        {
            var result = SessionTestKit.AssertFailedCleanly(outcome, Source.Inner, SourceDigest, Destination.Inner, DestinationDigest);
            Assert.True(RecordingDevice.OnlyGenuineBytes(Source, Destination, out string detail), detail);
            return result;
        }

        public void Dispose()
        {
            Source.Dispose();
            Destination.Dispose();
        }
    }

    [Theory]
    [InlineData(0, true, 30)]       // inside the preamble
    [InlineData(1, true, 20_000)]
    [InlineData(2, true, 700_000)]
    [InlineData(3, true, 1_900_000)]
    [InlineData(4, false, 10)]         // inside the return-path preamble
    [InlineData(5, false, 100)]
    [InlineData(6, false, 180)]        // (well before FINAL_ACK: a cut inside it leaves the receiver committed, see the report)
    public async Task ConnectionDroppedAtAByteFailsBothSidesCleanly(int seed, bool forward, long baseOffset)
    {
        long offset = baseOffset + new Random(seed).Next(0, 64); // a pseudo-random byte near the chosen region
        using var devices = new Devices(Spec);
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(0, forward ? FaultProxy.Direction.Forward : FaultProxy.Direction.Return, offset, FaultProxy.Kind.Cut), channels: 1);
        Assert.True(fired, "the proxy never reached the fault offset");
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Contains(s.Code, new[] { StreamErrorCode.ConnectionFailed, StreamErrorCode.PeerError, StreamErrorCode.Timeout });
        Assert.NotEqual(StreamErrorCode.None, r.Code);
    }

    [Fact]
    public async Task OneChannelOfThreeLostFailsBothSidesCleanly()
    {
        using var devices = new Devices("sim:profile=bulk,size=4MiB,seed=52");
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(1, FaultProxy.Direction.Forward, 300_000, FaultProxy.Kind.Cut), channels: 3, chunkSize: 64 << 10);
        Assert.True(fired);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(MigrationFailureOrigin.Transport, r.Origin);
        Assert.Contains(s.Code, new[] { StreamErrorCode.ConnectionFailed, StreamErrorCode.PeerError });
    }

    [Theory]
    [InlineData(1, 5_000L)]     // in the first DATA chunk
    [InlineData(1, 600_000L)]
    [InlineData(2, 900_000L)]
    public async Task BytesFlippedInFlightAreCaughtByTheCrcAndNeverReachTheDevice(int channels, long offset)
    {
        using var devices = new Devices(Spec);
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(0, FaultProxy.Direction.Forward, offset, FaultProxy.Kind.Flip), channels);
        Assert.True(fired);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Contains(r.Code, new[] { StreamErrorCode.PayloadChecksumMismatch, StreamErrorCode.HeaderChecksumMismatch });
        Assert.Equal(StreamErrorCode.PeerError, s.Code);
        Assert.Equal(r.Code, s.PeerCode);
    }

    [Fact]
    public async Task DestinationWriteErrorFailsBothSidesCleanly()
    {
        using var devices = new Devices(Spec, StripFaults(Spec) + ",state=blank,write-error=EFAULT,write-error-at=40%");
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(), Receiver(), LoopbackTcp());
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.DeviceRejected, r.Code);
        Assert.Equal(MigrationFailureOrigin.DestinationDevice, r.Origin);
        Assert.Contains("EFAULT", r.Reason);
        Assert.Equal(StreamErrorCode.PeerError, s.Code);
        Assert.Equal(StreamErrorCode.DeviceRejected, s.PeerCode);
        Assert.Contains("EFAULT", s.Reason);
    }

    [Fact]
    public async Task CommitFailureFailsBothSidesCleanly()
    {
        using var devices = new Devices(Spec, StripFaults(Spec) + ",state=blank,commit-error=EINVAL");
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(), Receiver(), LoopbackTcp(), channels: 2);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.DeviceRejected, r.Code);
        Assert.Contains("commit", r.Reason);
        Assert.Equal(StreamErrorCode.DeviceRejected, s.PeerCode);
        Assert.Equal(MigrationFailureOrigin.Peer, s.Origin);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReceiverCrashMidStreamFailsBothSidesCleanly(bool dispose)
    {
        // Slow reads keep pre-copy data flowing while the receiver goes away (no dirtying: the source's state must not change).
        using var devices = new Devices(SlowSpec);
        using var kill = new CancellationTokenSource();
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(mode: SwitchoverMode.Manual, chunkSize: 64 << 10), Receiver(), LoopbackTcp(),
            started: (_, receiver) => Task.Run(async () =>
            {
                while (receiver.GetProgress().Devices[0].PrecopyBytes < 1 << 20) await Task.Delay(5);
                if (dispose) await receiver.DisposeAsync(); else kill.Cancel();
            }),
            receiverToken: kill.Token);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.Cancelled, r.Code);
        Assert.Contains(s.Code, new[] { StreamErrorCode.PeerError, StreamErrorCode.ConnectionFailed });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SenderCrashMidStreamFailsBothSidesCleanly(bool dispose)
    {
        using var devices = new Devices(SlowSpec);
        using var kill = new CancellationTokenSource();
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(mode: SwitchoverMode.Manual, chunkSize: 64 << 10), Receiver(), LoopbackTcp(),
            started: (sender, _) => Task.Run(async () =>
            {
                while (sender.GetProgress().Devices[0].PrecopyBytes < 1 << 20) await Task.Delay(5);
                if (dispose) await sender.DisposeAsync(); else kill.Cancel();
            }),
            senderToken: kill.Token);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.Cancelled, s.Code);
        Assert.Equal(StreamErrorCode.PeerAborted, r.Code);
        Assert.Equal(StreamErrorCode.Cancelled, r.PeerCode);
    }

    [Theory]
    [InlineData(true, 300_000L)]  // the receiver hangs while data flows
    [InlineData(false, 100L)]     // the return path hangs
    public async Task AHangingPeerIsNoticedByTheIdleTimeoutOnBothSides(bool forward, long offset)
    {
        using var devices = new Devices(SlowSpec);
        var (outcome, fired) = await RunViaProxyAsync(devices,
            new FaultProxy.Fault(0, forward ? FaultProxy.Direction.Forward : FaultProxy.Direction.Return, offset, FaultProxy.Kind.Freeze),
            channels: 1, chunkSize: 64 << 10, transport: QuickTimeouts(), mode: SwitchoverMode.Manual);
        Assert.True(fired, $"the fault never fired; sender: {outcome.SendError?.Message}; receiver: {outcome.ReceiveError?.Message}");
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.Timeout, r.Code);
        Assert.Contains(s.Code, new[] { StreamErrorCode.Timeout, StreamErrorCode.ConnectionFailed });
    }

    /// <summary>Two-second idle and send timeouts (margin for a loaded 2-core machine): keepalives every 500 ms must keep a healthy stream alive.</summary>
    internal static TransportOptions QuickTimeouts() => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        HandshakeTimeout = TimeSpan.FromSeconds(5),
        IdleReceiveTimeout = TimeSpan.FromSeconds(2),
        SendTimeout = TimeSpan.FromSeconds(2),
        SocketBufferSize = 256 << 10,
    };

    [Theory]
    [InlineData(true)]  // a client certificate from another CA
    [InlineData(false)] // no client certificate at all
    public async Task BadOrMissingClientCertificateFailsBothSidesCleanly(bool wrongCa)
    {
        var certs = TestCertificates.Get();
        var serverTls = new TransportTlsOptions { Certificate = certs.Server, TrustedAuthorities = [certs.Ca], RequireClientCertificate = true };
        var clientTls = new TransportTlsOptions { Certificate = wrongCa ? certs.ClientOfOtherCa : null, TrustedAuthorities = [certs.Ca], TargetHost = "localhost" };
        using var devices = new Devices(Spec);
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(transport: FastTransport(clientTls)), Receiver(FastTransport(serverTls)), LoopbackTcp());
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(MigrationFailureOrigin.Transport, s.Origin);
        Assert.Equal(StreamErrorCode.ConnectionFailed, s.Code);
        Assert.Equal(MigrationFailureOrigin.Transport, r.Origin);
        Assert.True(r.Reason.Contains("TLS") || r.Reason.Contains("certificate"), r.Reason);
        Assert.Empty(devices.Destination.Sessions); // nothing reached the destination device
        Assert.Equal(MigrationState.Running, devices.Source.Inner.GetState());
    }

    /// <summary>Runs a migration whose sender dials the receiver through a <see cref="FaultProxy"/> injecting <paramref name="fault"/>.</summary>
    private static async Task<(Outcome Outcome, bool Fired)> RunViaProxyAsync(Devices devices, FaultProxy.Fault fault, int channels, int chunkSize = 256 << 10,
        TransportOptions? transport = null, SwitchoverMode mode = SwitchoverMode.Auto)
    {
        FaultProxy? proxy = null;
        try
        {
            var outcome = await RunAsync(devices.Source, devices.Destination, Sender(chunkSize: chunkSize, transport: transport, mode: mode), Receiver(transport), LoopbackTcp(), channels,
                via: target =>
                {
                    proxy = new FaultProxy(new IPEndPoint(IPAddress.Parse(target.Host!), target.Port), fault);
                    return proxy.Address(channels);
                });
            return (outcome, proxy!.Fired);
        }
        finally
        {
            if (proxy is not null) await proxy.DisposeAsync();
        }
    }
}
