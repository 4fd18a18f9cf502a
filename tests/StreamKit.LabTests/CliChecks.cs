using System.Diagnostics;
using System.Text.Json;
using StreamKit.Device;
using StreamKit.Device.Vfio;
using static StreamKit.LabTests.CheckRunner;

namespace StreamKit.LabTests;

/// <summary>
/// The `streamkit` command against the lab's real mtty devices: `streamkit receive --device vfio:B`
/// and `streamkit send --device vfio:A` as two processes over TCP loopback migrate A into B, then B's
/// UART registers and FIFO are read back and compared with A's. The second check resets A during
/// pre-copy and expects the migration to survive with a discard; the third does that through the
/// group/container API (<c>vfio-group:</c> SPECs).
/// <para>
/// How A is reset from outside its migration: mtty allows one open of a device at a time, so while
/// `streamkit send` holds A nothing else can reach it. The sender has a hidden test-only option,
/// <c>--inject-reset-in-precopy ID</c>, that issues VFIO_DEVICE_RESET through A's own device fd right
/// after the first pre-copy read returned data: the same kernel operation a guest FLR performs. The
/// sender is not told; it finds the data session dead (ENODEV) on its next read, like any reset.
/// </para>
/// </summary>
internal sealed class CliChecks(CheckRunner runner)
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(360); // dotnet starts slowly under TCG

    private static string Env(char device, string what) =>
        Environment.GetEnvironmentVariable($"VFIO_LAB_{device}_{what}") is { Length: > 0 } v ? v
            : throw new CheckFailedException($"VFIO_LAB_{device}_{what} is not set");

    internal void RunAll()
    {
        runner.Run("cli.migrate_tcp", () => Migrate(
            sourceSpec: $"vfio:{Env('A', "CDEV")}", destinationSpec: $"vfio:{Env('B', "CDEV")}",
            seedA: [(0x3c, 0x03, "CLI"), (0xc3, 0x1b, "ok")], seedB: [(0x01, 0x00, "old"), (0x02, 0x00, "")], injectReset: false));
        runner.Run("cli.discard_reset_in_precopy", () => Migrate(
            sourceSpec: $"vfio:{Env('A', "CDEV")}", destinationSpec: $"vfio:{Env('B', "CDEV")}",
            seedA: [(0x6b, 0x07, "RESET"), (0xb6, 0x0b, "d")], seedB: [(0x10, 0x00, ""), (0x20, 0x00, "zz")], injectReset: true));
        runner.Run("cli.group_discard_reset_in_precopy", () => Migrate(
            sourceSpec: $"vfio-group:{Env('A', "GROUP")}:{Env('A', "UUID")}", destinationSpec: $"vfio-group:{Env('B', "GROUP")}:{Env('B', "UUID")}",
            seedA: [(0x5a, 0x03, "GROUP"), (0xa5, 0x1f, "grp")], seedB: [(0x11, 0x00, "x"), (0x22, 0x00, "")], injectReset: true));
    }

    private static string Migrate(string sourceSpec, string destinationSpec, (byte Scr, byte Lcr, string Fifo)[] seedA, (byte Scr, byte Lcr, string Fifo)[] seedB, bool injectReset)
    {
        Seed('A', seedA);
        Seed('B', seedB);

        // Generous transport deadlines: under TCG on a loaded host a .NET process can stall for seconds, even inside connect().
        string[] slowHost = ["--handshake-timeout", "300s", "--idle-timeout", "300s"];
        using var receiver = StreamkitChild.Start(["receive", "--listen", "tcp://127.0.0.1:0", "--device", destinationSpec, "--json", .. slowHost]);
        string address = receiver.WaitForJson("listening", ProcessTimeout).GetProperty("address").GetString()!;
        string[] send = ["send", "--to", address, "--device", sourceSpec, "--source-after", "running", "--json", "--connect-timeout", "300s", .. slowHost];
        using var sender = StreamkitChild.Start(injectReset ? [.. send, "--inject-reset-in-precopy", "1"] : send);

        int sent = sender.WaitForExit(ProcessTimeout), received = receiver.WaitForExit(ProcessTimeout);
        Expect(sent == 0 && received == 0, $"send exited {sent}, receive exited {received}\nsend: {sender.Describe()}\nreceive: {receiver.Describe()}");
        var sentDevice = sender.Result().GetProperty("devices")[0];
        var receivedDevice = receiver.Result().GetProperty("devices")[0];
        int discards = sentDevice.GetProperty("discards").GetInt32();
        Expect(discards == (injectReset ? 1 : 0) && receivedDevice.GetProperty("discards").GetInt32() == discards,
            $"discards: sender {discards}, receiver {receivedDevice.GetProperty("discards").GetInt32()}, expected {(injectReset ? 1 : 0)}");
        Expect(receivedDevice.GetProperty("committed").GetBoolean(), "the receiver did not commit B");

        // Both processes are gone: open A and B again and compare what the UARTs show.
        var a = Snapshot('A');
        var b = Snapshot('B');
        for (int port = 0; port < 2; port++)
        {
            Expect(b[port] == a[port], $"port {port}: B {b[port]} differs from A {a[port]}");
            Expect((b[port].Scr, b[port].Lcr, b[port].Fifo) == seedA[port], $"port {port}: B {b[port]}, expected A's seeded {seedA[port]}");
        }
        return $"{sourceSpec} → {destinationSpec}: B port0 {b[0]}, port1 {b[1]}; " +
               $"{sentDevice.GetProperty("precopy_bytes")} pre-copy + {sentDevice.GetProperty("stop_copy_bytes")} stop-copy bytes, " +
               $"{discards} discard(s) ({sentDevice.GetProperty("discarded_bytes")} bytes dropped); send {sender.Elapsed.TotalSeconds:0.0} s";
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
        Expect(d.GetState() == MigrationState.Running, $"{device} is {d.GetState()} after the migration, expected RUNNING");
        var ports = new MttyPorts(d, 2);
        return [ports.Snapshot(0), ports.Snapshot(1)];
    }
}
