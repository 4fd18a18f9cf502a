using System.Diagnostics;
using System.Threading.Channels;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>
/// A child the e2e parent started: its control lines (WAITING / READY / DONE / FAIL / STAT) are queued
/// with the time they arrived; everything else it prints is kept (the last lines, for error reports)
/// and echoed when verbose.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private static readonly string[] ControlWords = ["WAITING", "READY", "DONE", "FAIL", "STAT"];

    private readonly Process _process;
    private readonly Channel<(string Line, long At)> _control = Channel.CreateUnbounded<(string, long)>();
    private readonly Queue<string> _tail = new();
    private readonly string _name;
    private readonly bool _verbose;
    private readonly Task _stdout;
    private readonly Task _stderr;

    /// <summary>Environment added to every child (the e2e --jit setting).</summary>
    public static Dictionary<string, string> Environment { get; } = [];

    private ChildProcess(string name, ProcessStartInfo start, bool verbose)
    {
        foreach (var (key, value) in Environment) start.Environment[key] = value;
        _name = name;
        _verbose = verbose;
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        _stdout = PumpAsync(_process.StandardOutput);
        _stderr = PumpAsync(_process.StandardError);
    }

    public int Id => _process.Id;

    /// <summary>This program again with <c>e2e-child SPEC</c>.</summary>
    public static ChildProcess StartSelf(string name, E2eRunSpec spec, bool verbose)
    {
        var start = new ProcessStartInfo(SelfCommand.Executable);
        foreach (var a in SelfCommand.Prefix) start.ArgumentList.Add(a);
        start.ArgumentList.Add("e2e-child");
        start.ArgumentList.Add(spec.Encode());
        return new ChildProcess(name, start, verbose);
    }

    /// <summary><c>/bin/sh -c command</c>.</summary>
    public static ChildProcess StartShell(string name, string command, bool verbose)
    {
        var start = new ProcessStartInfo("/bin/sh");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        return new ChildProcess(name, start, verbose);
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            long at = Stopwatch.GetTimestamp();
            int space = line.IndexOf(' ');
            string word = space < 0 ? line : line[..space];
            if (ControlWords.Contains(word))
            {
                _control.Writer.TryWrite((line, at));
                continue;
            }
            lock (_tail)
            {
                _tail.Enqueue(line);
                if (_tail.Count > 40) _tail.Dequeue();
            }
            if (_verbose) Console.Error.WriteLine($"  [{_name}] {line}");
        }
    }

    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for the next control line, which must start with <paramref name="word"/> (FAIL or exit → exception).</summary>
    public async Task<(string Value, long At)> ExpectAsync(string word, CancellationToken cancellationToken)
    {
        var reading = _control.Reader.ReadAsync(cancellationToken).AsTask();
        var exited = _process.WaitForExitAsync(cancellationToken);
        if (await Task.WhenAny(reading, exited).ConfigureAwait(false) != reading)
        {
            // The process ended: its last control lines may still be in flight. The pending read above
            // receives the next one (a TryRead here would race it and lose the line), and the channel
            // completes it on the thread pool, after TryWrite returned: so wait for the pumps to drain,
            // then give that read a moment to complete.
            await Task.WhenAll(_stdout, _stderr).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            if (!reading.IsCompletedSuccessfully)
                throw new InvalidOperationException($"{_name} exited ({_process.ExitCode}) while {word} was expected; last output:\n{Tail()}");
            return Check(reading.Result, word);
        }
        return Check(await reading.ConfigureAwait(false), word);
    }

    private (string, long) Check((string Line, long At) item, string word)
    {
        if (item.Line.StartsWith("FAIL", StringComparison.Ordinal))
            throw new InvalidOperationException($"{_name} failed: {item.Line[4..].Trim()}\n{Tail()}");
        if (!item.Line.StartsWith(word, StringComparison.Ordinal))
            throw new InvalidOperationException($"{_name}: expected {word}, got '{item.Line}'");
        return (item.Line[word.Length..].Trim(), item.At);
    }

    public string Tail()
    {
        lock (_tail) return string.Join('\n', _tail);
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try { await Task.WhenAll(_stdout, _stderr).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); }
        catch (TimeoutException) { }
        _process.Dispose();
    }
}

/// <summary>How to start this program again: the apphost, or dotnet + the dll.</summary>
internal static class SelfCommand
{
    public static string Executable { get; } = System.Environment.ProcessPath ?? "dotnet";

    public static string[] Prefix { get; } =
        Path.GetFileNameWithoutExtension(Executable) == "dotnet" ? [typeof(SelfCommand).Assembly.Location] : [];

    /// <summary>The command as a sh word list.</summary>
    public static string Shell(string args) =>
        string.Join(' ', new[] { Executable }.Concat(Prefix).Select(Quote)) + " " + args;

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
