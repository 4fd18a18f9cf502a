using System.Diagnostics;
using System.Net;
using StreamKit.Device;
using StreamKit.Device.Vfio;
using StreamKit.LabTests;
using StreamKit.Transport;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// Whole migrations over <c>rdma://</c>: the sessions (MigrationSender / MigrationReceiver) on top of
/// RdmaConnection, exactly as over tcp://. Simulated devices over two channels with a reset (DISCARD)
/// in pre-copy; the lab's real mtty A migrated into B; and the failure rule when the peer process is
/// SIGKILLed mid-stream, in both directions.
/// </summary>
internal sealed class SessionChecks(IPAddress address)
{
    /// <summary>
    /// Generous deadlines: under TCG on a loaded host a fresh .NET peer process can spend over a
    /// minute JIT-compiling between its handshake and its first chunk (seen once: an idle timeout
    /// at 60 s). Peer deaths are still noticed in about a second, through the disconnect.
    /// </summary>
    internal static TransportOptions Transport => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(120),
        HandshakeTimeout = TimeSpan.FromSeconds(120),
        ChannelGroupTimeout = TimeSpan.FromSeconds(120),
        IdleReceiveTimeout = TimeSpan.FromSeconds(120),
        SendTimeout = TimeSpan.FromSeconds(120),
    };

    internal static SenderOptions Sender(MigrationState sourceAfterSuccess = MigrationState.Stop) => new()
    {
        Transport = Transport,
        ChunkSize = 256 << 10,
        SourceStateAfterSuccess = sourceAfterSuccess,
        MaxPrecopyTime = TimeSpan.FromSeconds(240), // switch over on convergence, not on a clock a loaded host can outrun
        FinalAckTimeout = TimeSpan.FromSeconds(120),
    };

    internal static ReceiverOptions Receiver() => new() { Transport = Transport };

    internal IEnumerable<LabCheck> All()
    {
        yield return new("session-sim-2ch-discard", TimeSpan.FromSeconds(300), SimulatedTwoChannelsWithDiscard);
        yield return new("session-mtty-a-to-b", TimeSpan.FromSeconds(180), MttyAIntoB);
        yield return new("session-receiver-dies", TimeSpan.FromSeconds(300), ReceiverDies);
        yield return new("session-sender-dies", TimeSpan.FromSeconds(300), SenderDies);
    }

    private TransportAddress Listen => TransportAddress.Parse($"rdma://{address}:0");

    private static TransportAddress Dial(TransportAddress bound, int channels) =>
        TransportAddress.Parse($"rdma://{bound.Host}:{bound.Port}?channels={channels}");

    private async Task<IReadOnlyList<string>> SimulatedTwoChannelsWithDiscard(CancellationToken ct)
    {
        // Two devices, one reset at 40 % of its pre-copy: its stream restarts in a new epoch (DISCARD).
        string[] specs = ["sim:profile=mlx5,size=2MiB,seed=31,chunk=256KiB,reset-at=40%", "sim:profile=bulk,size=2MiB,seed=32,zero=0.25"];
        using var source1 = SimulatedDevice.Create(specs[0]);
        using var source2 = SimulatedDevice.Create(specs[1]);
        using var destination1 = SimulatedDevice.Create("sim:profile=mlx5,size=2MiB,seed=31,chunk=256KiB,state=blank");
        using var destination2 = SimulatedDevice.Create("sim:profile=bulk,size=2MiB,seed=32,zero=0.25,state=blank");
        ulong digest1 = source1.StateDigest, digest2 = source2.StateDigest;
        Expect.True(destination1.StateDigest != digest1 && destination2.StateDigest != digest2, "destinations start equal to the sources");

        await using var receiver = new MigrationReceiver(Receiver());
        await using var sender = new MigrationSender(Sender());
        receiver.AddDevice(1, destination1);
        receiver.AddDevice(2, destination2);
        sender.AddDevice(1, source1);
        sender.AddDevice(2, source2);
        await receiver.ListenAsync(Listen, ct);
        var target = Dial(receiver.BoundAddress!, 2);
        var receiving = receiver.RunAsync(ct);
        var sent = await sender.RunAsync(target, ct);
        var received = await receiving;

        Expect.True(sent.Channels == 2 && received.Channels == 2, $"channels: sender {sent.Channels}, receiver {received.Channels}");
        Expect.True(source1.StateDigest == digest1 && destination1.StateDigest == digest1, $"device 1: destination digest {destination1.StateDigest:x16}, source {digest1:x16}");
        Expect.True(destination2.StateDigest == digest2, $"device 2: destination digest {destination2.StateDigest:x16}, source {digest2:x16}");
        Expect.True(destination1.GetState() == MigrationState.Running && destination2.GetState() == MigrationState.Running, "destinations are not RUNNING");
        var s1 = sent.Devices.Single(d => d.Id == 1);
        var r1 = received.Devices.Single(d => d.Id == 1);
        Expect.True(s1.Discards == 1 && r1.Discards == 1 && source1.ResetCount == 1, $"discards: sender {s1.Discards}, receiver {r1.Discards}, source resets {source1.ResetCount}");
        Expect.True(sent.Devices.All(d => d.Committed) && received.Devices.All(d => d.Committed), "not every device committed");

        // The device bytes went out of the pumps' registered buffers in place; only small records were copied.
        var connections = sender.Session.Channels.Select(c => c.Connection).OfType<RdmaConnection>().ToArray();
        Expect.True(connections.Length == 2, $"{connections.Length} RDMA connections on the sender (expected 2)");
        long zeroCopy = connections.Sum(c => c.ZeroCopyBytes), copied = connections.Sum(c => c.CopiedBytes);
        long deviceBytes = sent.Devices.Sum(d => d.PrecopyBytes + d.StopCopyBytes);
        Expect.True(zeroCopy > 0 && zeroCopy >= deviceBytes / 2, $"only {zeroCopy} bytes went zero-copy for {deviceBytes} device bytes (copied {copied})");

        // The receiver parsed, verified and wrote into the devices from its registered receive buffers:
        // every byte after the preambles was lent in place, except what the lending budget's copy
        // fallback took while writers held too many buffers (leases of queued chunks).
        var inbound = receiver.Session.Group!.Channels.OfType<RdmaConnection>().ToArray();
        Expect.True(inbound.Length == 2, $"{inbound.Length} RDMA connections on the receiver (expected 2)");
        long inPlace = inbound.Sum(c => c.ReceivedInPlaceBytes), copiedIn = inbound.Sum(c => c.ReceivedCopiedBytes);
        long fallback = inbound.Sum(c => c.ReceivedFallbackBytes), receivedBytes = inbound.Sum(c => c.BytesReceived);
        Expect.True(inPlace + copiedIn == receivedBytes, $"receiver: {inPlace} in place + {copiedIn} copied != {receivedBytes} received");
        Expect.True(copiedIn - fallback <= inbound.Length * Wire.Preamble.MaxLength,
            $"receiver: {copiedIn - fallback} bytes copied outside the lending fallback (only the preambles may be)");
        Expect.True(inPlace > 0, "receiver: nothing was received in place");
        Expect.True(inbound.All(c => c.LentBuffers == 0), $"receive buffers still lent after the run: {string.Join(", ", inbound.Select(c => c.LentBuffers))}");
        long returnInPlace = connections.Sum(c => c.ReceivedInPlaceBytes), returnCopied = connections.Sum(c => c.ReceivedCopiedBytes);
        return [$"2 devices over 2 RDMA channels: digests equal, device 1 discarded {s1.DiscardedBytes} bytes once; {sent.WireBytes} wire bytes in {sent.Elapsed.TotalSeconds:0.0} s",
                $"sender: {zeroCopy} bytes sent in place from registered pump buffers, {copied} bytes copied (preambles, keepalives, records, zero-run chunks); device bytes {deviceBytes}",
                $"receiver: {inPlace} of {receivedBytes} bytes received in place in registered receive buffers (parsed, CRC-checked, written to the devices from there), {copiedIn} copied: {copiedIn - fallback} preamble bytes, {fallback} by the lending budget's fallback",
                $"sender's return path: {returnInPlace} bytes in place, {returnCopied} copied"];
    }

    private static string Env(char device, string what) =>
        Environment.GetEnvironmentVariable($"VFIO_LAB_{device}_{what}") is { Length: > 0 } v ? v
            : throw new LabCheckException($"VFIO_LAB_{device}_{what} is not set (the --rdma boot must still create the mtty devices)");

    private async Task<IReadOnlyList<string>> MttyAIntoB(CancellationToken ct)
    {
        (byte Scr, byte Lcr, string Fifo)[] seedA = [(0x5a, 0x03, "RDMA"), (0xa5, 0x1b, "ok")];
        Seed('A', seedA);
        Seed('B', [(0x01, 0x00, "old"), (0x02, 0x00, "")]);
        MigrationResult sent, received;
        using (var a = VfioDevice.OpenCdev(Env('A', "CDEV")))
        using (var b = VfioDevice.OpenCdev(Env('B', "CDEV")))
        {
            // A and B are different mdevs (their names are their uuids): the identity check would refuse, as it should.
            await using var receiver = new MigrationReceiver(new ReceiverOptions { Transport = Transport, CheckDeviceIdentity = false });
            await using var sender = new MigrationSender(Sender(MigrationState.Running));
            receiver.AddDevice(1, b);
            sender.AddDevice(1, a);
            await receiver.ListenAsync(Listen, ct);
            var receiving = receiver.RunAsync(ct);
            sent = await sender.RunAsync(Dial(receiver.BoundAddress!, 1), ct);
            received = await receiving;
        }
        Expect.True(received.Devices.Single().Committed, "the receiver did not commit B");
        var snapA = Snapshot('A');
        var snapB = Snapshot('B');
        for (int port = 0; port < 2; port++)
        {
            Expect.True(snapB[port] == snapA[port], $"port {port}: B {snapB[port]} differs from A {snapA[port]}");
            Expect.True((snapB[port].Scr, snapB[port].Lcr, snapB[port].Fifo) == seedA[port], $"port {port}: B {snapB[port]}, expected A's seeded {seedA[port]}");
        }
        var device = sent.Devices.Single();
        return [$"mtty A → B over rdma://{address}: B port0 {snapB[0]}, port1 {snapB[1]} (equal to A)",
                $"{device.PrecopyBytes} pre-copy + {device.StopCopyBytes} stop-copy bytes, {sent.WireBytes} wire bytes in {sent.Elapsed.TotalSeconds:0.0} s"];
    }

    private static void Seed(char device, (byte Scr, byte Lcr, string Fifo)[] values)
    {
        using var d = VfioDevice.OpenCdev(Env(device, "CDEV"));
        if (d.GetState() != MigrationState.Running) d.Reset();
        var ports = new MttyPorts(d, 2);
        for (int port = 0; port < 2; port++) ports.Seed(port, values[port].Scr, values[port].Lcr, values[port].Fifo);
    }

    private static PortSnapshot[] Snapshot(char device)
    {
        using var d = VfioDevice.OpenCdev(Env(device, "CDEV"));
        Expect.True(d.GetState() == MigrationState.Running, $"{device} is {d.GetState()} after the migration, expected RUNNING");
        var ports = new MttyPorts(d, 2);
        return [ports.Snapshot(0), ports.Snapshot(1)];
    }

    /// <summary>A big, slowly read source, so the stream is surely in flight when the peer is killed.</summary>
    internal const string SlowSource = "sim:profile=bulk,size=24MiB,seed=41,slow-read=40ms";
    internal const string SlowDestination = "sim:profile=bulk,size=24MiB,seed=41,state=blank";
    private const long KillAfterBytes = 2 << 20;

    private async Task<IReadOnlyList<string>> ReceiverDies(CancellationToken ct)
    {
        using var source = SimulatedDevice.Create(SlowSource);
        ulong digest = source.StateDigest;
        using var peer = SessionPeer.Start(["receive", address.ToString()]);
        int port = int.Parse(await peer.WaitForLineAsync("LISTENING ", ct), System.Globalization.CultureInfo.InvariantCulture);
        await using var sender = new MigrationSender(Sender());
        sender.AddDevice(1, source);
        var run = sender.RunAsync(TransportAddress.Parse($"rdma://{address}:{port}?channels=2"), ct);
        while (sender.GetProgress().WireBytes < KillAfterBytes && !run.IsCompleted) await Task.Delay(20, ct);
        Expect.True(!run.IsCompleted, $"the migration ended before the kill: {run.Exception?.GetBaseException().Message ?? "completed"}");
        long atKill = sender.GetProgress().WireBytes;
        peer.Kill();
        var watch = Stopwatch.StartNew();
        var e = await Expect.ThrowsAsync<MigrationException>(() => run, "the sender after its receiver was killed");
        Expect.True(source.GetState() == MigrationState.Running, $"source is {source.GetState()}, expected RUNNING");
        Expect.True(source.StateDigest == digest, "the source's state changed");
        Expect.True(e.Origin == MigrationFailureOrigin.Transport, $"origin {e.Origin} ({e.Message})");
        return [$"receiver killed after {atKill} wire bytes; sender failed in {watch.Elapsed.TotalSeconds:0.0} s with {e.Code}/{e.Origin}: {e.Reason}",
                "source RUNNING with its state digest unchanged"];
    }

    private async Task<IReadOnlyList<string>> SenderDies(CancellationToken ct)
    {
        using var destination = SimulatedDevice.Create(SlowDestination);
        ulong before = destination.StateDigest;
        await using var receiver = new MigrationReceiver(Receiver());
        receiver.AddDevice(1, destination);
        await receiver.ListenAsync(Listen, ct);
        var run = receiver.RunAsync(ct);
        using var peer = SessionPeer.Start(["send", address.ToString(), receiver.BoundAddress!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        while (receiver.GetProgress().WireBytes < KillAfterBytes && !run.IsCompleted) await Task.Delay(20, ct);
        Expect.True(!run.IsCompleted, $"the migration ended before the kill: {run.Exception?.GetBaseException().Message ?? "completed"}");
        long atKill = receiver.GetProgress().WireBytes;
        peer.Kill();
        var watch = Stopwatch.StartNew();
        var e = await Expect.ThrowsAsync<MigrationException>(() => run, "the receiver after its sender was killed");
        Expect.True(destination.GetState() == MigrationState.Running, $"destination is {destination.GetState()}, expected RUNNING after the reset");
        Expect.True(destination.StateDigest == before, "the destination holds part of the stream (it was not reset)");
        Expect.True(destination.ResetCount >= 1, "the destination was never reset");
        return [$"sender killed after {atKill} wire bytes; receiver failed in {watch.Elapsed.TotalSeconds:0.0} s with {e.Code}/{e.Origin}: {e.Reason}",
                $"destination reset ({destination.ResetCount}x) and RUNNING with its old state"];
    }
}
