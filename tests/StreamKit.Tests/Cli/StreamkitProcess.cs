using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace StreamKit.Tests.Cli;

/// <summary>
/// The built `streamkit` command run as a real child process (<c>dotnet streamkit.dll ARGS</c>): its
/// stdout lines are collected as they arrive (so a test can wait for "listening" and read the port),
/// stderr is kept for failure messages, and the process is killed if a test leaves it running.
/// </summary>
internal sealed class StreamkitProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _lineArrived = new(0);
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private StreamkitProcess(IReadOnlyList<string> args)
    {
        Arguments = string.Join(' ', args);
        var start = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(DllPath);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { _stdoutClosed.TrySetResult(); _lineArrived.Release(); return; }
            lock (_stdout) _stdout.Add(e.Data);
            _lineArrived.Release();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { _stderrClosed.TrySetResult(); return; }
            lock (_stderr) _stderr.AppendLine(e.Data);
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The command line, for messages.</summary>
    public string Arguments { get; }

    /// <summary>Process id (for signals).</summary>
    public int Id => _process.Id;

    /// <summary>stdout lines so far.</summary>
    public IReadOnlyList<string> StdoutLines { get { lock (_stdout) return [.. _stdout]; } }

    /// <summary>All of stdout so far.</summary>
    public string Stdout => string.Join('\n', StdoutLines);

    /// <summary>All of stderr so far.</summary>
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>stdout lines that are JSON objects, parsed.</summary>
    public IReadOnlyList<JsonElement> JsonLines =>
        StdoutLines.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    /// <summary>The last JSON object with "event":<paramref name="name"/>.</summary>
    public JsonElement LastEvent(string name) =>
        JsonLines.LastOrDefault(e => e.TryGetProperty("event", out var ev) && ev.GetString() == name) is { ValueKind: JsonValueKind.Object } found
            ? found : throw new Xunit.Sdk.XunitException($"no \"{name}\" event from streamkit {Arguments}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");

    /// <summary>Starts <c>streamkit ARGS</c>.</summary>
    public static StreamkitProcess Start(params string[] args) => new(args);

    /// <summary>Runs <c>streamkit ARGS</c> to the end.</summary>
    public static async Task<StreamkitProcess> RunAsync(params string[] args)
    {
        var process = Start(args);
        await process.WaitForExitAsync();
        return process;
    }

    /// <summary>Writes a line to the process's stdin.</summary>
    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for the first stdout line matching <paramref name="match"/>.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            if (StdoutLines.FirstOrDefault(match) is { } line) return line;
            if (_stdoutClosed.Task.IsCompleted || DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"streamkit {Arguments}: expected line not printed ({(_stdoutClosed.Task.IsCompleted ? "stdout closed" : "timed out")})\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            await _lineArrived.WaitAsync(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Waits for the "listening" JSON event and returns its address.</summary>
    public async Task<string> ListeningAddressAsync()
    {
        string line = await WaitForLineAsync(l => l.Contains("\"event\":\"listening\"", StringComparison.Ordinal));
        return JsonDocument.Parse(line).RootElement.GetProperty("address").GetString()!;
    }

    /// <summary>Waits for the exit (killing the process after <paramref name="timeout"/>) and for its output to drain; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(5));
            throw new Xunit.Sdk.XunitException($"streamkit {Arguments} did not exit in time\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(10));
        return _process.ExitCode;
    }

    /// <summary>The exit code (after <see cref="WaitForExitAsync"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Asserts the exit code, showing the output when it differs.</summary>
    public void AssertExit(int expected)
    {
        if (ExitCode != expected)
            throw new Xunit.Sdk.XunitException($"streamkit {Arguments} exited {ExitCode}, expected {expected}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    /// <summary>streamkit.dll: next to the test assembly (the test project references src/Cli), else src/Cli/bin/CONFIG/TFM.</summary>
    public static string DllPath
    {
        get
        {
            string beside = Path.Combine(AppContext.BaseDirectory, "streamkit.dll");
            if (File.Exists(beside)) return beside;
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            string framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
            return Control.SourceTree.Find("src", "Cli", "bin", configuration, framework, "streamkit.dll");
        }
    }

    /// <summary>The dotnet host that runs these tests.</summary>
    public static string DotnetHost
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
            if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
            return "dotnet";
        }
    }
}
