using System.Net;
using StreamKit.Device;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// One sender or receiver run with devices opened from SPECs, shared by send/save (sender) and
/// receive/restore (receiver): progress while it runs, then the result or the typed failure.
/// </summary>
internal static class MigrationRuns
{
    /// <summary>Runs a sender to <paramref name="destination"/>; returns the exit code.</summary>
    internal static async Task<int> SendAsync(string command, OutputMode mode, IReadOnlyList<OpenDevice> devices, SenderOptions options,
        TransportAddress destination, bool manualSwitchover, CancellationToken cancellationToken)
    {
        var report = new MigrationReport(mode, command, "sender", devices);
        try
        {
            await using var sender = new MigrationSender(options);
            foreach (var d in devices) sender.AddDevice(d.Spec.Id, d.Device);
            using var trigger = manualSwitchover ? ManualSwitchover.Start(sender.RequestSwitchover, source => Notice(mode, "switchover", $"switchover requested ({source})")) : null;
            if (manualSwitchover)
                Notice(mode, "switchover-manual", $"manual switchover: press Enter or run 'kill -USR1 {Environment.ProcessId}' to stop the source devices and finish");
            var run = sender.RunAsync(destination, cancellationToken);
            var result = await new ProgressDisplay(mode, "sender", ExpectedBytes(devices)).RunAsync(sender.GetProgress, run).ConfigureAwait(false);
            return report.Success(result);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            int code = report.Failure(e);
            // With TLS 1.3 a server refuses a missing client certificate after the handshake: the
            // sender only sees the connection end (usually before the receiver's first byte).
            if (code == ExitCodes.TransportError && options.Transport.Tls is { Certificate: null })
                Console.Error.WriteLine($"streamkit {command}: hint: the TLS connection failed and this sender has no client certificate; " +
                                        "if the receiver runs with --require-client-cert, give the sender --tls-cert and --tls-key");
            return code;
        }
    }

    /// <summary>Binds <paramref name="listen"/>, prints the bound address, receives one stream; returns the exit code.</summary>
    internal static async Task<int> ReceiveAsync(string command, OutputMode mode, IReadOnlyList<OpenDevice> devices, ReceiverOptions options,
        TransportAddress listen, string identityCheck, CancellationToken cancellationToken)
    {
        var report = new MigrationReport(mode, command, "receiver", devices);
        try
        {
            await using var receiver = new MigrationReceiver(options);
            foreach (var d in devices) receiver.AddDevice(d.Spec.Id, IdentityCheck.ForReceiver(d.Device, identityCheck));
            var endpoint = await receiver.ListenAsync(listen, cancellationToken).ConfigureAwait(false);
            if (listen.Scheme != TransportScheme.File) PrintListening(mode, BoundAddress(listen, endpoint));
            var run = receiver.RunAsync(cancellationToken);
            var result = await new ProgressDisplay(mode, "receiver", ExpectedBytes(devices)).RunAsync(receiver.GetProgress, run).ConfigureAwait(false);
            return report.Success(result);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return report.Failure(e);
        }
    }

    /// <summary>The address a listener really bound: a tcp or rdma port 0 replaced by the real port.</summary>
    internal static TransportAddress BoundAddress(TransportAddress listen, EndPoint? endpoint) =>
        listen.Scheme is TransportScheme.Tcp or TransportScheme.Rdma && endpoint is IPEndPoint ip && ip.Port != listen.Port ? listen.WithPort(ip.Port) : listen;

    /// <summary>
    /// Prints where the receiver listens, at once and flushed, so a script or test can start the sender:
    /// <c>listening on tcp://127.0.0.1:40123</c>, or <c>{"event":"listening","address":"…","port":40123}</c>.
    /// </summary>
    internal static void PrintListening(OutputMode mode, TransportAddress address)
    {
        if (mode == OutputMode.Json)
        {
            JsonLines.Write("listening", w =>
            {
                w.WriteString("address", address.ToString());
                if (address.Scheme is TransportScheme.Tcp or TransportScheme.Rdma) w.WriteNumber("port", address.Port);
                w.WriteNumber("pid", Environment.ProcessId);
            });
        }
        else
        {
            Console.Out.WriteLine($"listening on {address}");
            Console.Out.Flush();
        }
    }

    /// <summary>An informational line: stderr in text modes, a JSON event with --json.</summary>
    internal static void Notice(OutputMode mode, string jsonEvent, string text)
    {
        if (mode == OutputMode.Json) JsonLines.Write(jsonEvent, w => w.WriteString("message", text));
        else Console.Error.WriteLine(text);
    }

    /// <summary>What each device's progress bar counts to: a simulated device's state size, else the device's stop-copy estimate.</summary>
    internal static IReadOnlyDictionary<ushort, long> ExpectedBytes(IReadOnlyList<OpenDevice> devices)
    {
        var map = new Dictionary<ushort, long>();
        foreach (var d in devices)
        {
            if (d.Simulated is { } sim) map[d.Spec.Id] = sim.Spec.EffectiveSizeBytes;
            else
            {
                try
                {
                    if (d.Device.GetStopCopySizeEstimate() is { } estimate && estimate < long.MaxValue) map[d.Spec.Id] = (long)estimate;
                }
                catch (DeviceException)
                {
                    // No estimate: the bar grows with the bytes.
                }
            }
        }
        return map;
    }

    /// <summary>Parses a transport URI for <paramref name="option"/>; a malformed one is a usage error.</summary>
    internal static TransportAddress Address(string text, string option)
    {
        if (!TransportAddress.TryParse(text, out var address, out string? error))
            throw new CliUsageException($"{option}: bad address '{text}': {error}");
        return address;
    }

    /// <summary>Closes every device (best effort: a failing close must not hide the result).</summary>
    internal static void CloseAll(IEnumerable<OpenDevice> devices)
    {
        foreach (var d in devices)
        {
            try { d.Device.Dispose(); }
            catch (Exception e) when (e is DeviceException or IOException or ObjectDisposedException) { /* already reported or irrelevant */ }
        }
    }
}
