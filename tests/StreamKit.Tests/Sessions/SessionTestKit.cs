using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Sessions;

/// <summary>Runs real migrations between simulated devices over real transports, for the session tests.</summary>
internal static class SessionTestKit
{
    /// <summary>A hang becomes a failure, not a stuck run.</summary>
    public static CancellationToken Deadline(int seconds = 60) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    /// <summary>Short timeouts so dead peers are noticed within a test's time.</summary>
    public static TransportOptions FastTransport(TransportTlsOptions? tls = null) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        HandshakeTimeout = TimeSpan.FromSeconds(5),
        ChannelGroupTimeout = TimeSpan.FromSeconds(5),
        IdleReceiveTimeout = TimeSpan.FromSeconds(4),
        SendTimeout = TimeSpan.FromSeconds(4),
        SocketBufferSize = 1 << 20,
        Tls = tls,
    };

    public static SenderOptions Sender(PayloadCompression compression = PayloadCompression.None, TransportOptions? transport = null,
        SwitchoverMode mode = SwitchoverMode.Auto, int chunkSize = 256 << 10) => new()
    {
        Compression = compression,
        Transport = transport ?? FastTransport(),
        Switchover = mode,
        ChunkSize = chunkSize,
        MaxPrecopyTime = TimeSpan.FromSeconds(20),
        FinalAckTimeout = TimeSpan.FromSeconds(20),
    };

    public static ReceiverOptions Receiver(TransportOptions? transport = null, long cap = 64L << 20) => new()
    {
        Transport = transport ?? FastTransport(),
        ReassemblyCap = cap,
    };

    public static TransportAddress LoopbackTcp() => TransportAddress.Tcp("127.0.0.1", 0);

    public static TransportAddress TempUnix() =>
        TransportAddress.Unix(Path.Combine(Path.GetTempPath(), $"sk-{Guid.NewGuid():N}"[..15] + ".sock"));

    public static string TempFile() => Path.Combine(Path.GetTempPath(), $"streamkit-session-{Guid.NewGuid():N}.skm");

    /// <summary>The address a sender dials for a receiver bound at <paramref name="bound"/>, with N channels.</summary>
    public static TransportAddress Dial(TransportAddress bound, int channels) => bound.Scheme switch
    {
        TransportScheme.Tcp => TransportAddress.Tcp(bound.Host!, bound.Port, channels),
        TransportScheme.Unix => TransportAddress.Unix(bound.Path!, channels),
        _ => bound,
    };

    /// <summary>A source and a destination of one spec: the destination starts blank (its digest differs).</summary>
    public static (SimulatedDevice Source, SimulatedDevice Destination) Pair(string sourceSpec, string? destinationSpec = null)
    {
        var source = SimulatedDevice.Create(sourceSpec);
        var destination = SimulatedDevice.Create(destinationSpec ?? StripFaults(sourceSpec) + ",state=blank");
        Assert.NotEqual(source.StateDigest, destination.StateDigest);
        return (source, destination);
    }

    /// <summary>The spec without fault keys (a destination shares the content keys only).</summary>
    public static string StripFaults(string spec)
    {
        string[] faultKeys = ["reset-at", "reset-at-bytes", "reset-after", "read-error-at", "read-errno", "write-error", "write-error-at",
            "commit-error", "set-error", "slow-read", "slow-write", "repeat", "dirty-rate"];
        return string.Join(",", spec.Split(',').Where(p => !faultKeys.Contains(p.Split('=')[0].Trim())));
    }

    public sealed record Outcome(MigrationResult? Sent, MigrationResult? Received, Exception? SendError, Exception? ReceiveError);

    /// <summary>Runs one migration: the receiver listens on <paramref name="listen"/>, the sender dials it with <paramref name="channels"/> channels.</summary>
    public static async Task<Outcome> RunAsync(IReadOnlyList<(ushort Id, IMigrationDevice Source, IMigrationDevice Destination)> devices,
        SenderOptions senderOptions, ReceiverOptions receiverOptions, TransportAddress listen, int channels = 1,
        Func<TransportAddress, TransportAddress>? via = null, Action<MigrationSender, MigrationReceiver>? started = null, int deadlineSeconds = 60,
        CancellationToken senderToken = default, CancellationToken receiverToken = default)
    {
        var ct = Deadline(deadlineSeconds);
        using var senderCt = CancellationTokenSource.CreateLinkedTokenSource(ct, senderToken);
        using var receiverCt = CancellationTokenSource.CreateLinkedTokenSource(ct, receiverToken);
        await using var receiver = new MigrationReceiver(receiverOptions);
        await using var sender = new MigrationSender(senderOptions);
        foreach (var (id, source, destination) in devices)
        {
            receiver.AddDevice(id, destination);
            sender.AddDevice(id, source);
        }
        await receiver.ListenAsync(listen, ct);
        var target = Dial(receiver.BoundAddress!, channels);
        if (via is not null) target = via(target);
        var receiving = Capture(receiver.RunAsync(receiverCt.Token));
        var sending = Capture(sender.RunAsync(target, senderCt.Token));
        started?.Invoke(sender, receiver);
        var (sent, sendError) = await sending;
        var (received, receiveError) = await receiving;
        return new Outcome(sent, received, sendError, receiveError);
    }

    public static Task<Outcome> RunAsync(IMigrationDevice source, IMigrationDevice destination, SenderOptions senderOptions, ReceiverOptions receiverOptions,
        TransportAddress listen, int channels = 1, Func<TransportAddress, TransportAddress>? via = null, Action<MigrationSender, MigrationReceiver>? started = null,
        CancellationToken senderToken = default, CancellationToken receiverToken = default) =>
        RunAsync([(1, source, destination)], senderOptions, receiverOptions, listen, channels, via, started, senderToken: senderToken, receiverToken: receiverToken);

    public static async Task<(T? Value, Exception? Error)> Capture<T>(Task<T> task)
    {
        try
        {
            return (await task, null);
        }
        catch (Exception e)
        {
            return (default, e);
        }
    }

    /// <summary>A successful migration: both sides returned, the destination holds the source's state and runs.</summary>
    public static void AssertMigrated(Outcome outcome, SimulatedDevice source, SimulatedDevice destination, ulong sourceDigest)
    {
        Assert.Null(outcome.SendError);
        Assert.Null(outcome.ReceiveError);
        Assert.Equal(sourceDigest, source.StateDigest);
        Assert.Equal(sourceDigest, destination.StateDigest);
        Assert.Equal(MigrationState.Running, destination.GetState());
        Assert.Equal(MigrationState.Stop, source.GetState());
        Assert.All(outcome.Sent!.Devices, d => Assert.True(d.Committed));
        Assert.All(outcome.Received!.Devices, d => Assert.True(d.Committed));
    }

    /// <summary>The failure rule: both sides threw typed errors; the source runs with its state; the destination was reset to its old state.</summary>
    public static (MigrationException Sender, MigrationException Receiver) AssertFailedCleanly(Outcome outcome, SimulatedDevice source, ulong sourceDigest,
        SimulatedDevice destination, ulong destinationDigest)
    {
        var s = Assert.IsType<MigrationException>(outcome.SendError);
        var r = Assert.IsType<MigrationException>(outcome.ReceiveError);
        AssertRunningWith(source, sourceDigest);
        AssertRunningWith(destination, destinationDigest);
        return (s, r);
    }

    /// <summary>A receive on its own (a crafted stream) failed with <paramref name="code"/> and reset the destination to its old state.</summary>
    public static MigrationException AssertReceiveFailed(MigrationResult? result, Exception? error, StreamErrorCode code, SimulatedDevice destination, ulong before)
    {
        Assert.Null(result);
        var e = Assert.IsType<MigrationException>(error);
        Assert.Equal(code, e.Code);
        AssertRunningWith(destination, before);
        return e;
    }

    /// <summary>The device runs and holds the state <paramref name="digest"/> names: what a failed migration leaves on either side.</summary>
    private static void AssertRunningWith(SimulatedDevice device, ulong digest)
    {
        Assert.Equal(MigrationState.Running, device.GetState());
        Assert.Equal(digest, device.StateDigest);
    }
}
