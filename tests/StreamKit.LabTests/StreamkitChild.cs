using System.Diagnostics;
using System.Text.Json;

namespace StreamKit.LabTests;

/// <summary>
/// A `streamkit` child process (dotnet streamkit.dll of the same build) with its output collected, for the lab checks
/// that run the command as an operator would (this file is linked into StreamKit.RdmaLabTests too). Failures throw
/// <see cref="InvalidOperationException"/>, which both lab runners report as a failed check with its message.
/// </summary>
internal sealed class StreamkitChild : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly System.Text.StringBuilder _stderr = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private StreamkitChild(string[] args)
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

    internal static StreamkitChild Start(params string[] args) => new(args);

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
        return Find(name) ?? throw new InvalidOperationException($"no \"{name}\" from streamkit: {Describe()}");
    }

    internal JsonElement Result() => Find("result") ?? throw new InvalidOperationException($"no result from streamkit: {Describe()}");

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
            throw new InvalidOperationException($"streamkit did not exit within {timeout.TotalSeconds:0} s: {Describe()}");
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
        throw new InvalidOperationException($"streamkit.dll ({configuration}/{framework}) not found above {AppContext.BaseDirectory}: build the solution");
    }
}
