using System.CommandLine;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit receive --listen URI --device SPEC...</c>: the destination side as its own process.
/// Binds, prints the bound address at once (port 0 → the real port; also as JSON), accepts one
/// stream, writes it into the destination devices and commits each after its digest matched.
/// With <c>--control unix:PATH</c> a VMM hands over the devices instead.
/// </summary>
internal static class ReceiveCommand
{
    internal static Command Create()
    {
        var listen = new Option<string>("--listen")
        {
            Description = "Where to listen: tcp://host:port (port 0: any free port, printed), unix:/path; or file:/path to read a saved stream (see restore). " +
                          "The channel count comes from the sender.",
            HelpName = "URI",
            Required = true,
        };
        var devices = CommonOptions.Devices("Destination device (repeatable).");
        var control = CommonOptions.Control("destination");
        var commitTo = CommonOptions.CommitTo();
        var identity = CommonOptions.IdentityCheck();
        var reassembly = new Option<string>("--reassembly-cap")
        {
            Description = "Memory cap for reassembling chunks that arrive out of order across channels (announced to the sender as its window).",
            DefaultValueFactory = _ => "64MiB",
            HelpName = "SIZE",
        };
        var json = CommonOptions.Json();
        var command = new Command("receive", "Receive a migration stream from streamkit send and commit it into destination devices.")
        {
            listen, devices, control, commitTo, identity, reassembly, json,
        };
        var transport = TransportSettings.ForReceiver(command);

        command.SetAction((parse, _) =>
        {
            var mode = OutputModes.Choose(parse.GetValue(json));
            var address = MigrationRuns.Address(parse.GetValue(listen)!, "--listen");
            long cap = Quantities.Bytes(parse.GetValue(reassembly)!, "--reassembly-cap");
            if (cap < 1 << 20) throw new CliUsageException("--reassembly-cap must be at least 1MiB");
            var options = new ReceiverOptions
            {
                ReassemblyCap = cap,
                CommitTarget = CommonOptions.State(parse.GetValue(commitTo)!),
                CheckDeviceIdentity = IdentityCheck.Enabled(parse.GetValue(identity)!),
                Transport = transport.Build(parse),
            };
            string[] specs = parse.GetValue(devices) ?? [];
            if (parse.GetValue(control) is { } controlUri)
            {
                if (specs.Length > 0) throw new CliUsageException("--control and --device exclude each other: with --control the VMM adds the devices");
                return ControlHost.RunDestinationAsync(mode, CommonOptions.ControlPath(controlUri), options, address, ProcessSignals.Token);
            }
            return RunAsync("receive", mode, DeviceSpec.ParseAll(specs), options, address, parse.GetValue(identity)!);
        });
        return command;
    }

    /// <summary>Opens the devices and receives (shared with restore).</summary>
    internal static async Task<int> RunAsync(string name, OutputMode mode, IReadOnlyList<DeviceSpec> specs, ReceiverOptions options, TransportAddress address, string identity)
    {
        var devices = DeviceSpec.OpenAll(specs);
        try
        {
            return await MigrationRuns.ReceiveAsync(name, mode, devices, options, address, identity, ProcessSignals.Token).ConfigureAwait(false);
        }
        finally
        {
            MigrationRuns.CloseAll(devices);
        }
    }
}
