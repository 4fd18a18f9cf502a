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
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(240); // dotnet starts slowly under TCG

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
        string[] slowHost = ["--handshake-timeout", "120s", "--idle-timeout", "120s"];
        using var receiver = Streamkit.Start(["receive", "--listen", "tcp://127.0.0.1:0", "--device", destinationSpec, "--json", .. slowHost]);
        string address = receiver.WaitForJson("listening", ProcessTimeout).GetProperty("address").GetString()!;
        string[] send = ["send", "--to", address, "--device", sourceSpec, "--source-after", "running", "--json", "--connect-timeout", "120s", .. slowHost];
        using var sender = Streamkit.Start(injectReset ? [.. send, "--inject-reset-in-precopy", "1"] : send);

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

    /// <summary>A `streamkit` child process (dotnet streamkit.dll) with its output collected.</summary>
    private sealed class Streamkit : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _stdout = [];
        private readonly System.Text.StringBuilder _stderr = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        private Streamkit(string[] args)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(DllPath());
            foreach (string a in args) start.ArgumentList.Add(a);
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Add(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        internal static Streamkit Start(params string[] args) => new(args);

        internal TimeSpan Elapsed => _clock.Elapsed;

        internal JsonElement WaitForJson(string name, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                if (Find(name) is { } found) return found;
                if (_process.HasExited) break;
                Thread.Sleep(20);
            }
            _process.WaitForExit(1000);
            return Find(name) ?? throw new CheckFailedException($"no \"{name}\" from streamkit: {Describe()}");
        }

        internal JsonElement Result() => Find("result") ?? throw new CheckFailedException($"no result from streamkit: {Describe()}");

        private JsonElement? Find(string name)
        {
            lock (_stdout)
            {
                foreach (string line in _stdout.AsEnumerable().Reverse())
                {
                    if (!line.StartsWith('{')) continue;
                    var e = JsonDocument.Parse(line).RootElement;
                    if (e.TryGetProperty("event", out var ev) && ev.GetString() == name) return e.Clone();
                }
            }
            return null;
        }

        internal int WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
                throw new CheckFailedException($"streamkit did not exit within {timeout.TotalSeconds:0} s: {Describe()}");
            }
            _process.WaitForExit(); // drain the output
            return _process.ExitCode;
        }

        internal string Describe()
        {
            string stdout;
            lock (_stdout) stdout = string.Join(" | ", _stdout.Where(l => !l.Contains("\"event\":\"progress\"", StringComparison.Ordinal)));
            string stderr;
            lock (_stderr) stderr = _stderr.ToString().ReplaceLineEndings(" | ");
            return $"stdout: {stdout} stderr: {stderr}";
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
            _process.Dispose();
        }

        /// <summary>streamkit.dll of the same build: src/Cli/bin/CONFIG/TFM beside this program's tests/StreamKit.LabTests/bin/CONFIG/TFM.</summary>
        private static string DllPath()
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string framework = here.Name, configuration = here.Parent!.Name;
            for (var dir = here; dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "src", "Cli", "bin", configuration, framework, "streamkit.dll");
                if (File.Exists(candidate)) return candidate;
            }
            throw new CheckFailedException($"streamkit.dll ({configuration}/{framework}) not found above {AppContext.BaseDirectory}: build the solution");
        }
    }
}
