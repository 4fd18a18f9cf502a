using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StreamKit.Device;
using StreamKit.Tests.Transport;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using Xunit.Abstractions;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// The fault-injection matrix: one test case per cell (a <see cref="MigrationFaultPoint"/> and its
/// parameter), each a real migration between simulated devices over loopback TCP (through a
/// <see cref="FaultProxy"/> where the fault is in flight) asserting the failure rule: the source
/// devices end RUNNING with their state (digest before = after), the destination devices are reset
/// to their previous state, both sides throw a typed <see cref="MigrationException"/> saying why, and
/// no byte that was not verified reached a device (every destination session is a prefix of a source
/// session). Byte positions of the connection drops are seeded (<see cref="PositionSeed"/>). Each cell
/// logs what each side reported; docs/robustness.md tabulates them.
/// </summary>
public class FailureRuleTests(ITestOutputHelper output)
{
    private const string Spec = "sim:profile=mlx5,size=2MiB,seed=51,chunk=256KiB";
    private const string SlowSpec = "sim:profile=bulk,size=4MiB,seed=53,slow-read=3ms";
    /// <summary>Seed of the random drop positions (change it to explore others; the cells are named by their positions).</summary>
    internal const int PositionSeed = 20260815;

    /// <summary>Every cell. Drops: one inside the preamble plus four seeded positions over the ~2 MiB forward stream; three seeded positions over the return path before FINAL_ACK.</summary>
    public static TheoryData<MigrationFaultPoint, string> Matrix()
    {
        var data = new TheoryData<MigrationFaultPoint, string>();
        var random = new Random(PositionSeed);
        data.Add(MigrationFaultPoint.SenderConnectionDrop, "30");
        for (int i = 0; i < 4; i++) data.Add(MigrationFaultPoint.SenderConnectionDrop, random.NextInt64(64, 1_900_000).ToString(CultureInfo.InvariantCulture));
        // The return path carries ~250 bytes before FINAL_ACK (preamble, acks, windows); a cut inside FINAL_ACK leaves the receiver committed (see docs/robustness.md).
        for (int i = 0; i < 3; i++) data.Add(MigrationFaultPoint.ReceiverConnectionDrop, random.NextInt64(0, 200).ToString(CultureInfo.InvariantCulture));
        data.Add(MigrationFaultPoint.ChannelLost, "1of3");
        data.Add(MigrationFaultPoint.ReceiverStopsReading, "300000");
        data.Add(MigrationFaultPoint.BitFlipInFlight, "1ch@5000");
        data.Add(MigrationFaultPoint.BitFlipInFlight, "1ch@600000");
        data.Add(MigrationFaultPoint.BitFlipInFlight, "2ch@900000");
        data.Add(MigrationFaultPoint.ResetInPrecopy, "mlx5@50%");
        data.Add(MigrationFaultPoint.ResetInStopCopy, "bulk@50%");
        data.Add(MigrationFaultPoint.ResetInStopCopy, "hisi@50%");
        data.Add(MigrationFaultPoint.DestinationWriteEfault, "40%");
        data.Add(MigrationFaultPoint.DestinationWriteEnomem, "70%");
        data.Add(MigrationFaultPoint.CommitEinval, "2ch");
        data.Add(MigrationFaultPoint.TlsBadClientCert, "other-ca");
        data.Add(MigrationFaultPoint.TlsMissingClientCert, "none");
        data.Add(MigrationFaultPoint.GarbageAfterPreamble, "64B");
        data.Add(MigrationFaultPoint.OversizedLength, "0xFFFFFF00");
        data.Add(MigrationFaultPoint.Slowloris, "1B/250ms");
        data.Add(MigrationFaultPoint.ReceiverCrash, "dispose");
        data.Add(MigrationFaultPoint.ReceiverCrash, "cancel");
        data.Add(MigrationFaultPoint.SenderCrash, "dispose");
        data.Add(MigrationFaultPoint.SenderCrash, "cancel");
        data.Add(MigrationFaultPoint.HangingPeer, "forward@300000");
        data.Add(MigrationFaultPoint.HangingPeer, "return@100");
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Cell(MigrationFaultPoint point, string at)
    {
        string report = point switch
        {
            MigrationFaultPoint.SenderConnectionDrop => await ConnectionDropAsync(forward: true, long.Parse(at, CultureInfo.InvariantCulture)),
            MigrationFaultPoint.ReceiverConnectionDrop => await ConnectionDropAsync(forward: false, long.Parse(at, CultureInfo.InvariantCulture)),
            MigrationFaultPoint.ChannelLost => await ChannelLostAsync(),
            MigrationFaultPoint.ReceiverStopsReading => await ReceiverStopsReadingAsync(long.Parse(at, CultureInfo.InvariantCulture)),
            MigrationFaultPoint.BitFlipInFlight => await BitFlipAsync(int.Parse(at[..1], CultureInfo.InvariantCulture), long.Parse(at[(at.IndexOf('@') + 1)..], CultureInfo.InvariantCulture)),
            MigrationFaultPoint.ResetInPrecopy => await ResetInPrecopyAsync(),
            MigrationFaultPoint.ResetInStopCopy => await ResetInStopCopyAsync(at.StartsWith("bulk", StringComparison.Ordinal)
                ? "sim:profile=bulk,size=4MiB,seed=27,precopy=false,reset-at=50%" : "sim:profile=hisi,size=2MiB,seed=28,reset-at=50%"),
            MigrationFaultPoint.DestinationWriteEfault => await DestinationWriteErrorAsync("EFAULT", at),
            MigrationFaultPoint.DestinationWriteEnomem => await DestinationWriteErrorAsync("ENOMEM", at),
            MigrationFaultPoint.CommitEinval => await CommitFailureAsync(),
            MigrationFaultPoint.TlsBadClientCert => await ClientCertificateAsync(wrongCa: true),
            MigrationFaultPoint.TlsMissingClientCert => await ClientCertificateAsync(wrongCa: false),
            MigrationFaultPoint.GarbageAfterPreamble => await GarbageAfterPreambleAsync(),
            MigrationFaultPoint.OversizedLength => await OversizedLengthAsync(),
            MigrationFaultPoint.Slowloris => await SlowlorisAsync(),
            MigrationFaultPoint.ReceiverCrash => await ReceiverCrashAsync(dispose: at == "dispose"),
            MigrationFaultPoint.SenderCrash => await SenderCrashAsync(dispose: at == "dispose"),
            MigrationFaultPoint.HangingPeer => await HangingPeerAsync(at.StartsWith("forward", StringComparison.Ordinal), long.Parse(at[(at.IndexOf('@') + 1)..], CultureInfo.InvariantCulture)),
            _ => throw new ArgumentOutOfRangeException(nameof(point), point, "no cell runner"),
        };
        output.WriteLine($"MATRIX | {point}@{at} | {report} | pass");
    }

    private static string Describe(MigrationException e) =>
        $"{e.Code} ({e.Origin}{(e.PeerCode is { } p && p != StreamErrorCode.None ? $", peer {p}" : "")})";

    private static string Both(MigrationException s, MigrationException r) => $"sender {Describe(s)} | receiver {Describe(r)}";

    private async Task<string> ConnectionDropAsync(bool forward, long offset)
    {
        using var devices = new Devices(Spec);
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(0, forward ? FaultProxy.Direction.Forward : FaultProxy.Direction.Return, offset, FaultProxy.Kind.Cut), channels: 1);
        Assert.True(fired, "the proxy never reached the fault offset");
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Contains(s.Code, new[] { StreamErrorCode.ConnectionFailed, StreamErrorCode.PeerError, StreamErrorCode.Timeout });
        Assert.NotEqual(StreamErrorCode.None, r.Code);
        return Both(s, r);
    }

    private async Task<string> ChannelLostAsync()
    {
        using var devices = new Devices("sim:profile=bulk,size=4MiB,seed=52");
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(1, FaultProxy.Direction.Forward, 300_000, FaultProxy.Kind.Cut), channels: 3, chunkSize: 64 << 10);
        Assert.True(fired);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(MigrationFailureOrigin.Transport, r.Origin);
        Assert.Contains(s.Code, new[] { StreamErrorCode.ConnectionFailed, StreamErrorCode.PeerError });
        return Both(s, r);
    }

    /// <summary>
    /// The receiver's end stops reading after <paramref name="offset"/> bytes: the sender's sends stall while
    /// its source has 32 MiB to give. Its memory must stay bounded: bytes in flight never exceed the
    /// receiver's window (the 4 MiB reassembly cap), sampled, not timed; the pumps' buffers are a fixed set.
    /// Then both sides fail typed (send timeout / idle timeout or the peer's ERROR).
    /// </summary>
    private async Task<string> ReceiverStopsReadingAsync(long offset)
    {
        const long window = 4 << 20;
        const int chunk = 64 << 10;
        using var devices = new Devices("sim:profile=bulk,size=32MiB,seed=54");
        long maxInFlight = 0, maxPumpAllocated = 0;
        using var sampling = new CancellationTokenSource();
        Task? sampler = null;
        FaultProxy? proxy = null;
        try
        {
            var outcome = await RunAsync(devices.Source, devices.Destination, Sender(chunkSize: chunk, transport: QuickTimeouts()), Receiver(QuickTimeouts(), cap: window), LoopbackTcp(), 1,
                via: target =>
                {
                    proxy = new FaultProxy(new IPEndPoint(IPAddress.Parse(target.Host!), target.Port), new FaultProxy.Fault(0, FaultProxy.Direction.Forward, offset, FaultProxy.Kind.StopReading));
                    return proxy.Address(1);
                },
                started: (sender, _) => sampler = Task.Run(async () =>
                {
                    while (!sampling.IsCancellationRequested)
                    {
                        maxInFlight = Math.Max(maxInFlight, sender.Session.Window.InFlight);
                        maxPumpAllocated = Math.Max(maxPumpAllocated, sender.Session.PumpAllocatedBytes);
                        await Task.Delay(5);
                    }
                }));
            sampling.Cancel();
            await sampler!;
            Assert.True(proxy!.Fired, "the proxy never stopped reading");
            var (s, r) = devices.AssertFailedCleanly(outcome);
            Assert.True(maxInFlight <= window + ChunkHeader.Size + chunk, $"{maxInFlight} bytes in flight with a {window}-byte window");
            // Pump-thread allocation is logged, not asserted: the count is only updated when a drain returns, and here it
            // includes the test's RecordingDevice, whose MemoryStream copies every byte read on the pump thread (16 MB seen once).
            Assert.Contains(s.Code, new[] { StreamErrorCode.Timeout, StreamErrorCode.ConnectionFailed, StreamErrorCode.PeerError });
            Assert.Equal(StreamErrorCode.Timeout, r.Code);
            return $"{Both(s, r)} | sender held ≤ {maxInFlight >> 10} KiB in flight (window {window >> 10} KiB), pumps allocated {maxPumpAllocated} B";
        }
        finally
        {
            if (proxy is not null) await proxy.DisposeAsync();
        }
    }

    private async Task<string> BitFlipAsync(int channels, long offset)
    {
        using var devices = new Devices(Spec);
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(0, FaultProxy.Direction.Forward, offset, FaultProxy.Kind.Flip), channels);
        Assert.True(fired);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Contains(r.Code, new[] { StreamErrorCode.PayloadChecksumMismatch, StreamErrorCode.HeaderChecksumMismatch });
        Assert.Equal(StreamErrorCode.PeerError, s.Code);
        Assert.Equal(r.Code, s.PeerCode);
        return Both(s, r);
    }

    /// <summary>Not a failure: the DISCARD path re-sends the image and the migration commits (the failure rule does not apply; the bytes rule does).</summary>
    private async Task<string> ResetInPrecopyAsync()
    {
        using var devices = new Devices("sim:profile=mlx5,size=4MiB,seed=22,chunk=256KiB,reset-at=50%");
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(), Receiver(), LoopbackTcp());
        AssertMigrated(outcome, devices.Source.Inner, devices.Destination.Inner, devices.SourceDigest); // a reset keeps a source's state
        Assert.Equal(1, Assert.Single(outcome.Sent!.Devices).Discards);
        Assert.Equal(1, Assert.Single(outcome.Received!.Devices).Discards);
        Assert.True(RecordingDevice.OnlyGenuineBytes(devices.Source, devices.Destination, out string detail), detail);
        return "sender committed, 1 discard | receiver committed, 1 discard (DISCARD path)";
    }

    private async Task<string> ResetInStopCopyAsync(string spec)
    {
        using var devices = new Devices(spec);
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(), Receiver(), LoopbackTcp(), channels: 2);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.SourceDeviceFailed, s.Code);
        Assert.Equal(MigrationFailureOrigin.SourceDevice, s.Origin);
        Assert.Equal(StreamErrorCode.PeerAborted, r.Code);
        Assert.Equal(StreamErrorCode.SourceDeviceFailed, r.PeerCode);
        Assert.Contains("STOP_COPY", s.Reason);
        return Both(s, r);
    }

    private async Task<string> DestinationWriteErrorAsync(string errno, string at)
    {
        using var devices = new Devices(Spec, StripFaults(Spec) + $",state=blank,write-error={errno},write-error-at={at}");
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(), Receiver(), LoopbackTcp());
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.DeviceRejected, r.Code);
        Assert.Equal(MigrationFailureOrigin.DestinationDevice, r.Origin);
        Assert.Contains(errno, r.Reason);
        Assert.Equal(StreamErrorCode.PeerError, s.Code);
        Assert.Equal(StreamErrorCode.DeviceRejected, s.PeerCode);
        Assert.Contains(errno, s.Reason);
        return Both(s, r);
    }

    private async Task<string> CommitFailureAsync()
    {
        using var devices = new Devices(Spec, StripFaults(Spec) + ",state=blank,commit-error=EINVAL");
        var outcome = await RunAsync(devices.Source, devices.Destination, Sender(), Receiver(), LoopbackTcp(), channels: 2);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.DeviceRejected, r.Code);
        Assert.Contains("commit", r.Reason);
        Assert.Equal(StreamErrorCode.DeviceRejected, s.PeerCode);
        Assert.Equal(MigrationFailureOrigin.Peer, s.Origin);
        return Both(s, r);
    }

    private async Task<string> ClientCertificateAsync(bool wrongCa)
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
        return Both(s, r);
    }

    /// <summary>64 seeded random bytes replace what follows the sender's (valid) preamble: no sync word where the first header must start.</summary>
    private async Task<string> GarbageAfterPreambleAsync()
    {
        var garbage = new byte[64];
        new Random(PositionSeed).NextBytes(garbage);
        garbage[0] = (byte)'X'; // never "SKCH"
        using var devices = new Devices(Spec);
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(0, FaultProxy.Direction.Forward, Preamble.Size, FaultProxy.Kind.Overwrite, garbage), channels: 1);
        Assert.True(fired);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.BadSync, r.Code);
        Assert.Equal(MigrationFailureOrigin.Peer, r.Origin);
        Assert.Equal(StreamErrorCode.PeerError, s.Code);
        Assert.Equal(StreamErrorCode.BadSync, s.PeerCode);
        Assert.Empty(devices.Destination.Sessions);
        return Both(s, r);
    }

    /// <summary>
    /// The first chunk header becomes a DATA header with a correct header CRC announcing a 4 GiB − 256 byte
    /// payload: the receiver must refuse the length against its limit before reading or allocating anything for it.
    /// </summary>
    private async Task<string> OversizedLengthAsync()
    {
        var forged = new byte[ChunkHeader.Size];
        new ChunkHeader(ChunkType.Data, ChunkFlags.None, 1, 0, 0, 0, 0xFFFFFF00, 0xFFFFFF00, 0).Encode(forged);
        using var devices = new Devices(Spec);
        var (outcome, fired) = await RunViaProxyAsync(devices, new FaultProxy.Fault(0, FaultProxy.Direction.Forward, Preamble.Size, FaultProxy.Kind.Overwrite, forged), channels: 1);
        Assert.True(fired);
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.LengthOverLimit, r.Code);
        Assert.Equal(StreamErrorCode.LengthOverLimit, s.PeerCode);
        Assert.Empty(devices.Destination.Sessions);
        return Both(s, r);
    }

    /// <summary>
    /// A raw peer (no StreamKit sender: there is no source side) sends a valid preamble one byte every 250 ms,
    /// against a 2 s handshake deadline: the receiver must drop it and fail typed, its device untouched; the peer
    /// sees its connection closed before it finished.
    /// </summary>
    private async Task<string> SlowlorisAsync()
    {
        var ct = Deadline(60);
        var transport = new TransportOptions { HandshakeTimeout = TimeSpan.FromSeconds(2), IdleReceiveTimeout = TimeSpan.FromSeconds(2), SendTimeout = TimeSpan.FromSeconds(2) };
        using var destination = new RecordingDevice(SimulatedDevice.Create(StripFaults(Spec) + ",state=blank"));
        ulong before = destination.Inner.StateDigest;
        await using var receiver = new MigrationReceiver(Receiver(transport));
        receiver.AddDevice(1, destination);
        await receiver.ListenAsync(LoopbackTcp(), ct);
        var run = Capture(receiver.RunAsync(ct));
        var preamble = new byte[Preamble.Size];
        new Preamble(Guid.NewGuid(), 0, 1, StreamCapabilities.ReturnPath, 1 << 20, 8, PreambleRole.Forward).Encode(preamble);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, receiver.BoundAddress!.Port, ct);
        int sent = 0;
        string peer = "the receiver never closed";
        try
        {
            for (; sent < preamble.Length; sent++)
            {
                await socket.SendAsync(preamble.AsMemory(sent, 1), SocketFlags.None, ct);
                await Task.Delay(250, ct);
                if (socket.Poll(0, SelectMode.SelectRead)) // readable: a rejection notice, a close or a reset
                {
                    var buffer = new byte[4096];
                    int n = socket.Receive(buffer);
                    peer = n == 0 ? $"closed by the receiver after {sent + 1} bytes" : $"{n} bytes back (rejection notice) after {sent + 1} bytes, then closed";
                    break;
                }
            }
        }
        catch (SocketException e)
        {
            peer = $"{e.SocketErrorCode} after {sent} bytes";
        }
        var (_, error) = await run;
        var r = Assert.IsType<MigrationException>(error);
        Assert.True(sent < preamble.Length, "the trickling peer got its whole preamble in");
        Assert.Equal(MigrationFailureOrigin.Transport, r.Origin);
        Assert.Contains(r.Code, new[] { StreamErrorCode.ConnectionFailed, StreamErrorCode.Timeout });
        Assert.Equal(MigrationState.Running, destination.GetState());
        Assert.Equal(before, destination.Inner.StateDigest);
        Assert.Empty(destination.Sessions);
        return $"peer: {peer} | receiver {Describe(r)}";
    }

    private async Task<string> ReceiverCrashAsync(bool dispose)
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
        return Both(s, r);
    }

    private async Task<string> SenderCrashAsync(bool dispose)
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
        return Both(s, r);
    }

    private async Task<string> HangingPeerAsync(bool forward, long offset)
    {
        using var devices = new Devices(SlowSpec);
        var (outcome, fired) = await RunViaProxyAsync(devices,
            new FaultProxy.Fault(0, forward ? FaultProxy.Direction.Forward : FaultProxy.Direction.Return, offset, FaultProxy.Kind.Freeze),
            channels: 1, chunkSize: 64 << 10, transport: QuickTimeouts(), mode: SwitchoverMode.Manual);
        Assert.True(fired, $"the fault never fired; sender: {outcome.SendError?.Message}; receiver: {outcome.ReceiveError?.Message}");
        var (s, r) = devices.AssertFailedCleanly(outcome);
        Assert.Equal(StreamErrorCode.Timeout, r.Code);
        Assert.Contains(s.Code, new[] { StreamErrorCode.Timeout, StreamErrorCode.ConnectionFailed });
        return Both(s, r);
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
