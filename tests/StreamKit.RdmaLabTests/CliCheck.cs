using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// The command over RDMA: <c>streamkit receive --listen rdma://ADDR:0</c> and
/// <c>streamkit send --to rdma://ADDR:PORT?channels=2</c> as two processes, simulated devices on
/// both ends. The destination commits only if the end record's digest and size match what it
/// received (spec/simulated-devices.md), so "committed" means the state arrived intact.
/// </summary>
internal sealed class CliCheck(IPAddress address)
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(240);
    private const string Source = "sim:profile=mlx5,size=1MiB,seed=61,chunk=256KiB";
    private const string Destination = "sim:profile=mlx5,size=1MiB,seed=61,chunk=256KiB,state=blank";

    internal IEnumerable<LabCheck> All()
    {
        yield return new("cli-send-receive-rdma", TimeSpan.FromSeconds(300), SendReceive);
    }

    private Task<IReadOnlyList<string>> SendReceive(CancellationToken ct) => Task.Run<IReadOnlyList<string>>(() =>
    {
        string[] slow = ["--handshake-timeout", "120s", "--idle-timeout", "120s", "--json"];
        using var receiver = Streamkit.Start(["receive", "--listen", $"rdma://{address}:0", "--device", Destination, .. slow]);
        string listening = receiver.WaitForJson("listening", ProcessTimeout).GetProperty("address").GetString()!;
        Expect.True(listening.StartsWith("rdma://", StringComparison.Ordinal), $"receiver listens on {listening}");
        using var sender = Streamkit.Start(["send", "--to", $"{listening}?channels=2", "--device", Source, .. slow]);
        int sent = sender.WaitForExit(ProcessTimeout), received = receiver.WaitForExit(ProcessTimeout);
        Expect.True(sent == 0 && received == 0, $"send exited {sent}, receive exited {received}\nsend: {sender.Describe()}\nreceive: {receiver.Describe()}");
        var result = receiver.WaitForJson("result", TimeSpan.Zero);
        var device = result.GetProperty("devices")[0];
        Expect.True(device.GetProperty("committed").GetBoolean(), $"the receiver did not commit: {receiver.Describe()}");
        return [$"streamkit receive --listen rdma://{address}:0 → {listening}; streamkit send --to {listening}?channels=2: both exit 0, destination committed",
                $"send took {sender.Elapsed.TotalSeconds:0.0} s"];
    }, ct);

    /// <summary>A streamkit child process with its JSON lines collected.</summary>
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

        internal static Streamkit Start(string[] args) => new(args);

        internal TimeSpan Elapsed => _clock.Elapsed;

        internal JsonElement WaitForJson(string name, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            do
            {
                if (Find(name) is { } found) return found;
                if (_process.HasExited) break;
                Thread.Sleep(20);
            }
            while (DateTime.UtcNow < deadline);
            _process.WaitForExit(1000);
            return Find(name) ?? throw new LabCheckException($"no \"{name}\" from streamkit: {Describe()}");
        }

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
                throw new LabCheckException($"streamkit did not exit within {timeout.TotalSeconds:0} s: {Describe()}");
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

        /// <summary>streamkit.dll of the same build: src/Cli/bin/CONFIG/TFM above this program's bin/CONFIG/TFM.</summary>
        private static string DllPath()
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string framework = here.Name, configuration = here.Parent!.Name;
            for (var dir = here; dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "src", "Cli", "bin", configuration, framework, "streamkit.dll");
                if (File.Exists(candidate)) return candidate;
            }
            throw new LabCheckException($"streamkit.dll ({configuration}/{framework}) not found above {AppContext.BaseDirectory}: build the solution");
        }
    }
}
