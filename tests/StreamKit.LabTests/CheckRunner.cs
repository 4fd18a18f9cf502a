using System.Diagnostics;
using StreamKit.Device;

namespace StreamKit.LabTests;

/// <summary>A failed expectation inside a check.</summary>
internal sealed class CheckFailedException(string message) : Exception(message);

/// <summary>Runs named checks and prints one line each: "PASS name: detail" or "FAIL name: reason".</summary>
internal sealed class CheckRunner
{
    private readonly HashSet<string> _listed = [.. LabCheckNames.All];
    private readonly HashSet<string> _run = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    internal int Passed { get; private set; }
    internal int Failed { get; private set; }

    internal void Run(string name, Func<string> check)
    {
        var started = _clock.Elapsed;
        string timing() => $"{(_clock.Elapsed - started).TotalMilliseconds:0.0} ms";
        if (!_run.Add(name) || !_listed.Contains(name))
        {
            Report(false, name, "check run twice or not listed in LabCheckNames");
            return;
        }
        try
        {
            string detail = check();
            Report(true, name, $"{detail} [{timing()}]");
        }
        catch (Exception e)
        {
            Report(false, name, $"{Describe(e)} [{timing()}]");
        }
    }

    /// <summary>Fails every check listed for <paramref name="api"/> that did not run (e.g. the devices would not open).</summary>
    internal void FailNotRun(string reason)
    {
        foreach (string name in LabCheckNames.All)
            if (!_run.Contains(name)) { _run.Add(name); Report(false, name, $"not run: {reason}"); }
    }

    internal void FailNotRun(string api, string reason)
    {
        foreach (string check in LabCheckNames.PerApi)
        {
            string name = $"{api}.{check}";
            if (!_run.Contains(name)) { _run.Add(name); Report(false, name, $"not run: {reason}"); }
        }
    }

    internal TimeSpan Elapsed => _clock.Elapsed;

    private void Report(bool pass, string name, string text)
    {
        if (pass) Passed++; else Failed++;
        Console.WriteLine($"{(pass ? "PASS" : "FAIL")} {name}: {text.ReplaceLineEndings(" ")}");
    }

    internal static string Describe(Exception e) => e switch
    {
        CheckFailedException => e.Message,
        DeviceException d => $"unexpected DeviceException {d.Kind} errno {d.Errno}: {d.Message}",
        _ => $"unexpected {e.GetType().Name}: {e.Message} at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}",
    };

    internal static void Expect(bool condition, string what)
    {
        if (!condition) throw new CheckFailedException(what);
    }

    /// <summary>Runs <paramref name="action"/>, which must throw a DeviceException of <paramref name="kind"/>.</summary>
    internal static DeviceException ExpectDeviceError(DeviceErrorKind kind, Action action, string what)
    {
        try
        {
            action();
        }
        catch (DeviceException e)
        {
            Expect(e.Kind == kind, $"{what}: expected {kind}, got {e.Kind} errno {e.Errno} ({e.Message})");
            return e;
        }
        throw new CheckFailedException($"{what}: expected DeviceException {kind}, but the call succeeded");
    }

    internal static string ErrnoText(int errno) => errno == 0 ? "no errno" : $"{Errno.Name(errno)}({errno})";
}
