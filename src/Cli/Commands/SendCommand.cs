using System.CommandLine;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit send --device SPEC... --to URI</c>: the source side as its own process. Opens the
/// devices, connects, pre-copies, switches over (automatically when the devices converge, or when
/// the operator says so), stop-copies and waits for the destination's FINAL_ACK. With
/// <c>--control unix:PATH</c> a VMM hands over the devices instead (spec/control-protocol.md).
/// </summary>
internal static class SendCommand
{
    internal static Command Create()
    {
        var devices = CommonOptions.Devices("Source device (repeatable).");
        var to = new Option<string>("--to")
        {
            Description = "Destination: tcp://host:port[?channels=N], unix:/path[?channels=N], or file:/path (one channel; see save).",
            HelpName = "URI",
            Required = true,
        };
        var control = CommonOptions.Control("source");
        var compress = CommonOptions.Compress();
        var chunkSize = CommonOptions.ChunkSize();
        var switchover = new Option<string>("--switchover")
        {
            Description = "auto: switch over when the devices' pending pre-copy data is drained (or after --max-precopy-time); " +
                          "manual: when the operator presses Enter or sends SIGUSR1. With --control the VMM decides (switchover op).",
            DefaultValueFactory = _ => "auto",
            HelpName = "auto|manual",
        };
        switchover.AcceptOnlyFromAmong("auto", "manual");
        var maxPrecopy = CommonOptions.MaxPrecopyTime();
        var sourceAfter = CommonOptions.SourceAfter();
        var json = CommonOptions.Json();
        var injectReset = new Option<ushort?>("--inject-reset-in-precopy")
        {
            Description = "TEST ONLY: reset device ID (VFIO_DEVICE_RESET through its own fd) right after its first pre-copy read, to exercise DISCARD with real devices.",
            HelpName = "ID",
            Hidden = true,
        };
        var command = new Command("send", "Migrate source devices to a receiver (streamkit receive) as a separate process.")
        {
            devices, to, control, compress, chunkSize, switchover, maxPrecopy, sourceAfter, json, injectReset,
        };
        var transport = TransportSettings.ForSender(command);

        command.SetAction((parse, _) =>
        {
            var mode = OutputModes.Choose(parse.GetValue(json));
            var destination = MigrationRuns.Address(parse.GetValue(to)!, "--to");
            var options = new SenderOptions
            {
                Compression = CommonOptions.Compression(parse.GetValue(compress)!),
                ChunkSize = CommonOptions.ChunkSizeValue(parse.GetValue(chunkSize)!),
                Switchover = parse.GetValue(switchover) == "manual" || parse.GetValue(control) is not null ? SwitchoverMode.Manual : SwitchoverMode.Auto,
                MaxPrecopyTime = Quantities.Duration(parse.GetValue(maxPrecopy)!, "--max-precopy-time"),
                SourceStateAfterSuccess = CommonOptions.State(parse.GetValue(sourceAfter)!),
                Transport = transport.Build(parse),
            };
            string[] specs = parse.GetValue(devices) ?? [];
            if (parse.GetValue(control) is { } controlUri)
            {
                if (specs.Length > 0) throw new CliUsageException("--control and --device exclude each other: with --control the VMM adds the devices");
                if (parse.GetValue(injectReset) is not null) throw new CliUsageException("--inject-reset-in-precopy needs --device");
                return ControlHost.RunSourceAsync(mode, CommonOptions.ControlPath(controlUri), options, destination, ProcessSignals.Token);
            }
            return RunAsync(mode, DeviceSpec.ParseAll(specs), options, destination, parse.GetValue(switchover) == "manual", parse.GetValue(injectReset));
        });
        return command;
    }

    private static async Task<int> RunAsync(OutputMode mode, IReadOnlyList<DeviceSpec> specs, SenderOptions options, TransportAddress destination,
        bool manual, ushort? injectReset)
    {
        if (injectReset is { } id && specs.All(s => s.Id != id)) throw new CliUsageException($"--inject-reset-in-precopy: no device has id {id}");
        var devices = DeviceSpec.OpenAll(specs);
        try
        {
            if (injectReset is { } resetId)
                devices = devices.Select(d => d.Spec.Id == resetId ? d with { Device = new ResetInjectingDevice(d.Device) } : d).ToList();
            return await MigrationRuns.SendAsync("send", mode, devices, options, destination, manual, ProcessSignals.Token).ConfigureAwait(false);
        }
        finally
        {
            MigrationRuns.CloseAll(devices);
        }
    }
}
