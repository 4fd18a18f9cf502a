using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using StreamKit.Device;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit demo</c>: a whole migration in one process over loopback TCP: two simulated source
/// devices (an mlx5-like one with PRE_COPY, reset once during pre-copy, and an mtty-like UART pair)
/// into two blank destination devices. The reset is recovered by a DISCARD (the device's pre-copy
/// restarts; the migration goes on). Ends with a table and a real check: each destination device's
/// state digest after its commit must equal its source's at stop, otherwise the command fails.
/// </summary>
internal static class DemoCommand
{
    internal static Command Create()
    {
        var size = new Option<string>("--size") { Description = "State size of the mlx5-like device.", DefaultValueFactory = _ => "64MiB", HelpName = "SIZE" };
        var zero = new Option<string>("--zero") { Description = "Share of all-zero pages in the mlx5-like device (sent as ZERO_RUN).", DefaultValueFactory = _ => "25%", HelpName = "FRACTION" };
        var resetAt = new Option<string>("--reset-at")
        {
            Description = "Where in its pre-copy stream the mlx5-like source device is reset (a percentage or a byte offset), or none.",
            DefaultValueFactory = _ => "40%",
            HelpName = "POINT|none",
        };
        var dirtyRate = new Option<string?>("--dirty-rate") { Description = "Pages the mlx5-like device re-dirties during pre-copy, e.g. 2000/s or 50/MiB.", HelpName = "RATE" };
        var compress = CommonOptions.Compress();
        var channels = new Option<int>("--channels") { Description = "Parallel TCP connections (1-16).", DefaultValueFactory = _ => 2, HelpName = "N" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the simulated devices' content.", DefaultValueFactory = _ => 1UL, HelpName = "N" };
        var bandwidth = new Option<string?>("--max-bandwidth") { Description = "Bandwidth limit, e.g. 200MiB/s (default: unlimited).", HelpName = "RATE" };
        var json = CommonOptions.Json();
        var command = new Command("demo", "Migrate two simulated devices (mlx5-like with pre-copy and a reset during it, mtty-like) over loopback TCP " +
                                          "in one process, show live progress and a closing table, and check the destination state equals the source.")
        {
            size, zero, resetAt, dirtyRate, compress, channels, seed, bandwidth, json,
        };
        command.SetAction((parse, _) =>
        {
            int n = parse.GetValue(channels);
            if (n is < 1 or > 16) throw new CliUsageException("--channels must be 1-16");
            string reset = parse.GetValue(resetAt)!.Trim();
            var plan = new DemoPlan(
                Size: parse.GetValue(size)!.Trim(),
                Zero: parse.GetValue(zero)!.Trim(),
                ResetAt: reset.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : reset,
                DirtyRate: parse.GetValue(dirtyRate),
                Seed: parse.GetValue(seed),
                Channels: n,
                Compression: CommonOptions.Compression(parse.GetValue(compress)!),
                Bandwidth: parse.GetValue(bandwidth) is { } b ? Quantities.BytesPerSecond(b, "--max-bandwidth") : 0);
            return RunAsync(plan, OutputModes.Choose(parse.GetValue(json)), ProcessSignals.Token);
        });
        return command;
    }

    private sealed record DemoPlan(string Size, string Zero, string? ResetAt, string? DirtyRate, ulong Seed, int Channels, PayloadCompression Compression, long Bandwidth)
    {
        internal string[] SourceSpecs =>
        [
            $"sim:profile=mlx5,size={Size},zero={Zero},seed={Seed}" + (ResetAt is null ? "" : $",reset-at={ResetAt}") + (DirtyRate is null ? "" : $",dirty-rate={DirtyRate}"),
            $"sim:profile=mtty,seed={Seed}",
        ];

        // Same content function (profile, size, seed, zero); blank state, so the state visibly has to move.
        internal string[] DestinationSpecs =>
        [
            $"sim:profile=mlx5,size={Size},zero={Zero},seed={Seed},state=blank",
            $"sim:profile=mtty,seed={Seed},state=blank",
        ];
    }

    private static async Task<int> RunAsync(DemoPlan plan, OutputMode mode, CancellationToken cancellationToken)
    {
        var sources = DeviceSpec.OpenAll(DeviceSpec.ParseAll(plan.SourceSpecs));
        var destinations = DeviceSpec.OpenAll(DeviceSpec.ParseAll(plan.DestinationSpecs));
        try
        {
            var before = destinations.Select(d => d.Simulated!.StateDigest).ToArray();
            if (mode != OutputMode.Json)
            {
                string compression = plan.Compression == PayloadCompression.None ? "no compression" : $"compression {plan.Compression.ToString().ToLowerInvariant()}";
                AnsiConsole.MarkupLine($"[bold]streamkit demo[/]: {sources.Count} simulated devices, loopback TCP, {plan.Channels} channel(s), {compression}");
                foreach (var (s, i) in sources.Select((s, i) => (s, i)))
                {
                    AnsiConsole.MarkupLine(Markup.Escape($"  device {s.Spec.Id}: {s.Simulated!.Spec}"));
                    AnsiConsole.MarkupLine(Markup.Escape($"         → {destinations[i].Simulated!.Spec}"));
                }
            }

            var transport = new TransportOptions { BandwidthLimit = plan.Bandwidth };
            await using var receiver = new MigrationReceiver(new ReceiverOptions { Transport = transport });
            foreach (var d in destinations) receiver.AddDevice(d.Spec.Id, d.Device);
            var listen = TransportAddress.Tcp("127.0.0.1", 0, plan.Channels);
            var bound = MigrationRuns.BoundAddress(listen, await receiver.ListenAsync(listen, cancellationToken).ConfigureAwait(false));

            await using var sender = new MigrationSender(new SenderOptions { Compression = plan.Compression, Transport = transport });
            foreach (var d in sources) sender.AddDevice(d.Spec.Id, d.Device);

            using var receiverStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var receiving = receiver.RunAsync(receiverStop.Token);
            var sending = sender.RunAsync(bound, cancellationToken);
            var both = BothAsync(sending, receiving, receiverStop);
            var (sent, received) = await new ProgressDisplay(mode, "demo", MigrationRuns.ExpectedBytes(sources)).RunAsync(sender.GetProgress, both).ConfigureAwait(false);
            if (sent is null || received is null)
                return Failed(mode, sending, receiving, sources);

            // The sources stay in STOP after success, so their digests now are their digests at stop.
            var checks = sources.Select((s, i) => new DigestCheck(s.Spec.Id, s.Device.Name, s.Simulated!.StateDigest,
                destinations[i].Simulated!.StateDigest, before[i])).ToList();
            bool verified = checks.All(c => c.Equal);
            Report(mode, plan, sent, received, checks, sources);
            return verified ? ExitCodes.Success : ExitCodes.MigrationFailed;
        }
        finally
        {
            MigrationRuns.CloseAll(sources);
            MigrationRuns.CloseAll(destinations);
        }
    }

    private sealed record DigestCheck(ushort Id, string Name, ulong Source, ulong Destination, ulong DestinationBefore)
    {
        internal bool Equal => Source == Destination;
    }

    /// <summary>Both sides' results, or nulls when either failed (the failure is reported from the tasks).</summary>
    private static async Task<(MigrationResult? Sent, MigrationResult? Received)> BothAsync(Task<MigrationResult> sending, Task<MigrationResult> receiving, CancellationTokenSource receiverStop)
    {
        try
        {
            await sending.ConfigureAwait(false);
        }
        catch (Exception) when (!receiving.IsCompleted)
        {
            // The receiver learns of the failure from the stream; if it never connected, stop it.
            if (await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false) != receiving) receiverStop.Cancel();
        }
        catch (Exception)
        {
            // reported below
        }
        try
        {
            await receiving.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // reported below
        }
        return (sending.IsCompletedSuccessfully ? sending.Result : null, receiving.IsCompletedSuccessfully ? receiving.Result : null);
    }

    private static int Failed(OutputMode mode, Task<MigrationResult> sending, Task<MigrationResult> receiving, IReadOnlyList<OpenDevice> sources)
    {
        // The side that detected the problem reports it locally; the other side's error is usually "the peer said so".
        var errors = new[] { ("sender", sending), ("receiver", receiving) }
            .Where(t => t.Item2.IsFaulted || t.Item2.IsCanceled)
            .Select(t => (Role: t.Item1, Error: t.Item2.Exception?.GetBaseException() ?? (Exception)new OperationCanceledException()))
            .ToList();
        var primary = errors.FirstOrDefault(e => e.Error is not MigrationException { Origin: MigrationFailureOrigin.Peer });
        if (primary.Error is null) primary = errors[0];
        foreach (var (role, error) in errors)
            if (error != primary.Error) ErrorReport.Print($"demo ({role})", error);
        return new MigrationReport(mode, $"demo ({primary.Role})", primary.Role, sources).Failure(primary.Error);
    }

    private static void Report(OutputMode mode, DemoPlan plan, MigrationResult sent, MigrationResult received, List<DigestCheck> checks, IReadOnlyList<OpenDevice> sources)
    {
        bool verified = checks.All(c => c.Equal);
        if (mode == OutputMode.Json)
        {
            JsonLines.Write("result", w =>
            {
                w.WriteBoolean("ok", verified);
                w.WriteString("role", "demo");
                w.WriteNumber("exit_code", verified ? ExitCodes.Success : ExitCodes.MigrationFailed);
                w.WriteBoolean("verified", verified);
                w.WriteStartObject("sender");
                new MigrationReport(mode, "demo", "sender", sources).WriteResultFields(w, sent);
                w.WriteEndObject();
                w.WriteStartArray("digests");
                foreach (var c in checks)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", c.Id);
                    w.WriteString("source", JsonLines.Hex(c.Source));
                    w.WriteString("destination", JsonLines.Hex(c.Destination));
                    w.WriteString("destination_before", JsonLines.Hex(c.DestinationBefore));
                    w.WriteBoolean("equal", c.Equal);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
        }
        else
        {
            string[] headers = ["Device", "Bytes", "Chunks", "Wire", "Ratio", "Throughput", "Discards", "Discarded", "Stop-copy time", "State"];
            var rows = new List<string[]>();
            foreach (var d in sent.Devices)
            {
                long raw = d.PrecopyBytes + d.StopCopyBytes;
                var check = checks.First(c => c.Id == d.Id);
                bool committed = received.Devices.FirstOrDefault(r => r.Id == d.Id)?.Committed ?? false;
                rows.Add([
                    Markup.Escape($"{d.Id} {d.Name}"),
                    Quantities.FormatBytes(raw),
                    d.Chunks.ToString(CultureInfo.InvariantCulture),
                    Quantities.FormatBytes(d.WireBytes),
                    MigrationReport.Ratio(raw, d.WireBytes),
                    Quantities.FormatRate(raw, sent.Elapsed),
                    d.Discards.ToString(CultureInfo.InvariantCulture),
                    Quantities.FormatBytes(d.DiscardedBytes),
                    Quantities.FormatDuration(d.StopCopyTime),
                    check.Equal && committed ? "[green]equal[/]" : committed ? "[red]DIFFERS[/]" : "[red]not committed[/]",
                ]);
            }
            long totalRaw = sent.Devices.Sum(d => d.PrecopyBytes + d.StopCopyBytes);
            rows.Add(["[bold]total[/]", Quantities.FormatBytes(totalRaw), sent.Devices.Sum(d => d.Chunks).ToString(CultureInfo.InvariantCulture),
                Quantities.FormatBytes(sent.WireBytes), MigrationReport.Ratio(totalRaw, sent.WireBytes), Quantities.FormatRate(totalRaw, sent.Elapsed),
                sent.Devices.Sum(d => d.Discards).ToString(CultureInfo.InvariantCulture), Quantities.FormatBytes(sent.Devices.Sum(d => d.DiscardedBytes)),
                Quantities.FormatDuration(sent.Devices.Max(d => d.StopCopyTime)), ""]);
            var table = FittedTable.Build(headers, rows, c => c is > 0 and < 9, "[bold]migration[/]");
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Quantities.FormatBytes(sent.WireBytes)} on the wire, {sent.Channels} channel(s), {Quantities.FormatDuration(sent.Elapsed)}"));
            foreach (var c in checks)
                AnsiConsole.WriteLine($"  device {c.Id} state digest: source {JsonLines.Hex(c.Source)} {(c.Equal ? "=" : "≠")} destination {JsonLines.Hex(c.Destination)}");
            if (verified)
            {
                AnsiConsole.MarkupLine("[green]destination state verified equal to source[/]");
            }
            else
            {
                foreach (var c in checks.Where(c => !c.Equal))
                    AnsiConsole.MarkupLine($"[red]device {c.Id}: destination state differs from source[/]");
            }
        }
        if (!verified)
            Console.Error.WriteLine("streamkit demo: destination state differs from source for device(s) " +
                                    string.Join(", ", checks.Where(c => !c.Equal).Select(c => c.Id)));
    }
}
