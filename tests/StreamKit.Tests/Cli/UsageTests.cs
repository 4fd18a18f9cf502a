using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>Bad command lines exit 2 with a message that says what is wrong; --help documents the exit codes.</summary>
public sealed class UsageTests
{
    [Fact]
    public async Task HelpListsEveryCommandAndTheExitCodes()
    {
        await using var p = await StreamkitProcess.RunAsync("--help");
        p.AssertExit(0);
        foreach (string command in new[] { "demo", "send", "receive", "save", "restore", "inspect", "verify" })
            Assert.Contains(command, p.Stdout);
        foreach (string code in new[] { "0  success", "1  migration failed", "2  usage error", "3  device error", "4  transport error", "5  stream format error", "130  cancelled" })
            Assert.Contains(code, p.Stdout);
    }

    [Theory]
    [InlineData("send")]
    [InlineData("receive")]
    [InlineData("verify")]
    public async Task SubcommandHelpAlsoListsTheExitCodes(string command)
    {
        await using var p = await StreamkitProcess.RunAsync(command, "--help");
        p.AssertExit(0);
        Assert.Equal(ExitCodeRows(ReadmeExitCodes()), ExitCodeRows(HelpExitCodes(p.Stdout)));
        Assert.DoesNotContain("inject-reset", p.Stdout); // the test hook stays hidden
    }

    [Fact]
    public async Task ReadmeExitCodeTableSaysWhatHelpSays()
    {
        await using var p = await StreamkitProcess.RunAsync("--help");
        p.AssertExit(0);
        var help = HelpExitCodes(p.Stdout);
        Assert.Equal(ExitCodeRows(StreamKit.Cli.ExitCodes.Table), ExitCodeRows(help));
        Assert.Equal(ExitCodeRows(help), ExitCodeRows(ReadmeExitCodes()));
    }

    private static string[] ExitCodeRows(IEnumerable<(int Code, string Meaning)> rows) => rows.Select(r => $"{r.Code} {r.Meaning}").ToArray();

    /// <summary>The "Exit codes:" block of --help: "  NNN  meaning" lines.</summary>
    private static List<(int Code, string Meaning)> HelpExitCodes(string help)
    {
        var lines = help.Split('\n').Select(l => l.TrimEnd('\r')).SkipWhile(l => l != "Exit codes:").Skip(1)
            .TakeWhile(l => l.Length > 0).ToList();
        Assert.NotEmpty(lines);
        return lines.Select(l => l.Trim()).Select(l => (int.Parse(l[..l.IndexOf(' ')], System.Globalization.CultureInfo.InvariantCulture), l[l.IndexOf(' ')..].Trim())).ToList();
    }

    /// <summary>The README's "### Exit codes" table rows: "| N | meaning |".</summary>
    private static List<(int Code, string Meaning)> ReadmeExitCodes()
    {
        var lines = File.ReadAllLines(Control.SourceTree.Find("README.md")).SkipWhile(l => l != "### Exit codes").Skip(1)
            .SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|'))
            .Skip(2).ToList(); // the header and |---| rows
        Assert.NotEmpty(lines);
        return lines.Select(l => l.Split('|', StringSplitOptions.TrimEntries)).Select(c => (int.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture), c[2])).ToList();
    }

    [Theory]
    [InlineData("sim:profile=mlx5,size=banana", "size")]
    [InlineData("sim:profile=warp", "unknown profile 'warp'")]
    [InlineData("sim:profile=mtty,colour=blue", "colour")]
    [InlineData("sim:profile=mtty,reset-at=140%", "reset-at")]
    [InlineData("pci:0000:65:00.1", "unknown kind 'pci'")]
    [InlineData("vfio:dev/vfio/devices/vfio0", "absolute path")]
    [InlineData("vfio-group:/dev/vfio/7", "vfio-group:/dev/vfio/N:NAME")]
    [InlineData("sim:profile=mtty,id=0", "id '0'")]
    public async Task BadDeviceSpecIsAUsageError(string spec, string message)
    {
        await using var p = await StreamkitProcess.RunAsync("send", "--device", spec, "--to", "tcp://127.0.0.1:9");
        p.AssertExit(2);
        Assert.Contains(spec, p.Stderr);
        Assert.Contains(message, p.Stderr);
    }

    [Fact]
    public async Task DuplicateDeviceIdsAreAUsageError()
    {
        await using var p = await StreamkitProcess.RunAsync("receive", "--listen", "tcp://127.0.0.1:0",
            "--device", "sim:profile=mtty", "--device", "sim:profile=mtty,id=1");
        p.AssertExit(2);
        Assert.Contains("device id 1 is used by both", p.Stderr);
    }

    [Theory]
    [InlineData("send", "--to", "tcp://127.0.0.1", "missing port")]
    [InlineData("send", "--to", "tcp://127.0.0.1:9?chanels=2", "unknown parameter 'chanels'")]
    [InlineData("send", "--to", "carrier-pigeon://x", "unknown scheme")]
    [InlineData("send", "--to", "tcp://127.0.0.1:70000", "0..65535")]
    [InlineData("save", "--to", "tcp://127.0.0.1:9", "save writes to file:/path")]
    [InlineData("save", "--to", "file:/tmp/x?channels=2", "exactly one channel")]
    public async Task BadUriIsAUsageError(string command, string option, string uri, string message)
    {
        await using var p = await StreamkitProcess.RunAsync(command, "--device", "sim:profile=mtty", option, uri);
        p.AssertExit(2);
        Assert.Contains(message, p.Stderr);
    }

    [Fact]
    public async Task BadListenUriIsAUsageError()
    {
        await using var p = await StreamkitProcess.RunAsync("receive", "--listen", "tcp://[::1:0", "--device", "sim:profile=mtty");
        p.AssertExit(2);
        Assert.Contains("IPv6 literal is missing ']'", p.Stderr);
    }

    [Theory]
    [InlineData(new[] { "send", "--device", "sim:profile=mtty" }, "--to")]
    [InlineData(new[] { "send", "--device", "sim:profile=mtty", "--to", "tcp://127.0.0.1:9", "--compress", "zstd" }, "zstd")]
    [InlineData(new[] { "send", "--device", "sim:profile=mtty", "--to", "tcp://127.0.0.1:9", "--max-bandwidth", "fast" }, "--max-bandwidth")]
    [InlineData(new[] { "send", "--to", "tcp://127.0.0.1:9" }, "at least one --device")]
    [InlineData(new[] { "send", "--device", "sim:profile=mtty", "--to", "tcp://127.0.0.1:9", "--control", "unix:/tmp/x.sock" }, "exclude each other")]
    [InlineData(new[] { "receive", "--listen", "tcp://127.0.0.1:0", "--device", "sim:profile=mtty", "--require-client-cert" }, "--tls-ca")]
    [InlineData(new[] { "frobnicate" }, "frobnicate")]
    public async Task BadOptionsAreUsageErrors(string[] args, string message)
    {
        await using var p = await StreamkitProcess.RunAsync(args);
        p.AssertExit(2);
        Assert.Contains(message, p.Stderr);
    }

    [Fact]
    public async Task MissingTlsCertificateFileIsATransportError()
    {
        await using var p = await StreamkitProcess.RunAsync("receive", "--listen", "tcp://127.0.0.1:0", "--device", "sim:profile=mtty",
            "--tls-cert", "/nonexistent/cert.pem");
        p.AssertExit(4);
        Assert.Contains("TlsFailed", p.Stderr);
    }

    [Fact]
    public async Task VfioDeviceThatCannotBeOpenedIsADeviceError()
    {
        await using var p = await StreamkitProcess.RunAsync("send", "--device", "vfio:/dev/vfio/devices/vfio-does-not-exist", "--to", "tcp://127.0.0.1:9");
        p.AssertExit(3);
        Assert.Contains("device error", p.Stderr);
    }
}
