using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>
/// <c>streamkit send --control</c> and <c>streamkit receive --control</c> as real child processes,
/// both driven by a separate python process (vmm_pair.py) acting as the source and destination VMMs:
/// real fds over SCM_RIGHTS, pipes standing in for data_fds. The bytes the source VMM writes into its
/// pipe must arrive, exactly, in the destination VMM's pipe; with a discard, only the new epoch's.
/// </summary>
public sealed class ControlSocketTests
{
    private const int PrecopyBytes = 200_000; // > 3 pipe buffers: the VMM blocks until StreamKit reads
    private const int StopCopyBytes = 50_000;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TwoVmmsDriveSendAndReceiveThroughTheirControlSockets(bool discard)
    {
        string dir = Directory.CreateTempSubdirectory("sk-ctl-").FullName;
        try
        {
            string dstSocket = Path.Combine(dir, "dst.sock"), srcSocket = Path.Combine(dir, "src.sock");
            await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--control", "unix:" + dstSocket, "--json");
            string address = await receiver.ListeningAddressAsync();
            await receiver.WaitForLineAsync(l => l.Contains("\"event\":\"control\"", StringComparison.Ordinal));
            await using var sender = StreamkitProcess.Start("send", "--to", address, "--control", "unix:" + srcSocket, "--json");
            await sender.WaitForLineAsync(l => l.Contains("\"event\":\"control\"", StringComparison.Ordinal));

            var (exit, stdout, stderr) = await RunDriverAsync(srcSocket, dstSocket, discard);
            Assert.True(exit == 0, $"vmm_pair.py exited {exit}: {stderr}\nsend stderr:\n{sender.Stderr}\nreceive stderr:\n{receiver.Stderr}");
            using var summary = JsonDocument.Parse(stdout);
            var s = summary.RootElement;
            Assert.True(s.GetProperty("equal").GetBoolean(),
                $"the destination fd got {s.GetProperty("received_len")} bytes, expected {s.GetProperty("expected_len")} (sha {s.GetProperty("received_sha256")} vs {s.GetProperty("expected_sha256")})");
            Assert.True(s.GetProperty("switchover").GetProperty("acked").GetBoolean());
            Assert.Equal(StopCopyBytes, s.GetProperty("device_done").GetProperty("stop_copy_bytes").GetInt32());
            Assert.Equal(PrecopyBytes + StopCopyBytes, s.GetProperty("device_complete").GetProperty("bytes").GetInt32());
            Assert.Equal("completed", s.GetProperty("dst_status").GetProperty("phase").GetString());
            var sourceEvents = s.GetProperty("source_events").EnumerateArray().Select(e => e.GetString()).ToList();
            var destinationEvents = s.GetProperty("destination_events").EnumerateArray().Select(e => e.GetString()).ToList();
            foreach (string expected in new[] { "progress", "switchover-ready", "device-done", "completed" }) Assert.Contains(expected, sourceEvents);
            foreach (string expected in new[] { "progress", "device-complete", "completed" }) Assert.Contains(expected, destinationEvents);

            // Device 2 is STOP_COPY-only: no fd in add-device, its STOP_COPY fd attached to stop-copy.
            Assert.True(s.GetProperty("device2_equal").GetBoolean(), $"device 2's destination fd got {s.GetProperty("device2_received_len")} bytes, expected {StopCopyBytes / 2}");
            Assert.Equal(0, s.GetProperty("device_done_2").GetProperty("precopy_bytes").GetInt32());
            Assert.Equal(StopCopyBytes / 2, s.GetProperty("device_done_2").GetProperty("stop_copy_bytes").GetInt32());
            Assert.Equal(StopCopyBytes / 2, s.GetProperty("device_complete_2").GetProperty("bytes").GetInt32());

            // Bad requests on both sockets got the spec's error replies (section 9) and the run went on.
            var codes = s.GetProperty("error_codes");
            Assert.Equal(
                ["hello-required", "bad-json", "bad-json", "bad-json", "unknown-op", "wrong-role", "bad-type", "bad-value", "missing-field",
                 "unknown-device", "bad-state", "unexpected-fd", "unexpected-fd", "fd-missing", "bad-state", "fd-missing"],
                codes.GetProperty("source").EnumerateArray().Select(e => e.GetString()!).ToArray());
            Assert.Equal(
                ["hello-required", "bad-json", "bad-json", "bad-json", "unknown-op", "wrong-role", "bad-type", "bad-value",
                 "unknown-device", "bad-state", "unexpected-fd", "bad-state"],
                codes.GetProperty("destination").EnumerateArray().Select(e => e.GetString()!).ToArray());
            if (discard)
            {
                Assert.Equal(1, s.GetProperty("device_complete").GetProperty("epoch").GetInt32());
                Assert.True(s.GetProperty("first_fd_is_epoch0_prefix").GetBoolean(), "the first RESUMING fd got bytes that are not epoch 0's");
                Assert.Contains("resume-fd-needed", s.GetProperty("destination_events").EnumerateArray().Select(e => e.GetString()));
            }

            Assert.Equal(0, await sender.WaitForExitAsync());
            Assert.Equal(0, await receiver.WaitForExitAsync());
            Assert.True(sender.LastEvent("result").GetProperty("ok").GetBoolean());
            var received = receiver.LastEvent("result");
            Assert.True(received.GetProperty("ok").GetBoolean());
            Assert.Equal(discard ? 1 : 0, received.GetProperty("devices")[0].GetProperty("discards").GetInt32());
            Assert.False(File.Exists(srcSocket), "the control socket file outlived the server");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task CancelDuringPrecopyFailsBothSidesAndReleasesTheFds()
    {
        string dir = Directory.CreateTempSubdirectory("sk-ctl-").FullName;
        try
        {
            string dstSocket = Path.Combine(dir, "dst.sock"), srcSocket = Path.Combine(dir, "src.sock");
            await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--control", "unix:" + dstSocket, "--json");
            string address = await receiver.ListeningAddressAsync();
            await receiver.WaitForLineAsync(l => l.Contains("\"event\":\"control\"", StringComparison.Ordinal));
            await using var sender = StreamkitProcess.Start("send", "--to", address, "--control", "unix:" + srcSocket, "--json");
            await sender.WaitForLineAsync(l => l.Contains("\"event\":\"control\"", StringComparison.Ordinal));

            var (exit, stdout, stderr) = await RunPythonAsync("--cancel", srcSocket, dstSocket);
            Assert.True(exit == 0, $"vmm_pair.py exited {exit}: {stderr}\nsend stderr:\n{sender.Stderr}\nreceive stderr:\n{receiver.Stderr}");
            using var summary = JsonDocument.Parse(stdout);
            var s = summary.RootElement;
            Assert.Equal("Cancelled", s.GetProperty("source_failed").GetProperty("reason").GetString());
            Assert.Equal("PeerAborted", s.GetProperty("destination_failed").GetProperty("reason").GetString());
            Assert.Contains("Cancelled", s.GetProperty("destination_failed").GetProperty("message").GetString());
            Assert.Equal("failed", s.GetProperty("source_status").GetProperty("phase").GetString());
            Assert.Equal("failed", s.GetProperty("destination_status").GetProperty("phase").GetString());
            Assert.Equal("aborted", s.GetProperty("source_status").GetProperty("devices")[0].GetProperty("state").GetString());
            Assert.Equal("aborted", s.GetProperty("destination_status").GetProperty("devices")[0].GetProperty("state").GetString());
            Assert.True(s.GetProperty("source_fd_closed").GetBoolean(), "streamkit send kept its copy of the PRE_COPY fd");
            Assert.True(s.GetProperty("destination_fd_closed").GetBoolean(), "streamkit receive kept its copy of the RESUMING fd");
            Assert.True(s.GetProperty("destination_bytes_are_prefix").GetBoolean(), "the destination fd got bytes the source never wrote");

            Assert.Equal(ExitCodesCancelled, await sender.WaitForExitAsync());
            Assert.Equal(1, await receiver.WaitForExitAsync()); // the peer aborted: a failed migration, not this side's cancel
            Assert.Equal("PeerAborted", receiver.LastEvent("result").GetProperty("error").GetProperty("code").GetString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private const int ExitCodesCancelled = 130;

    [Fact]
    public async Task StartFailsWhileNobodyListensAndCancelEndsTheMigration()
    {
        string dir = Directory.CreateTempSubdirectory("sk-ctl-").FullName;
        try
        {
            int port;
            using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
            }
            string socket = Path.Combine(dir, "src.sock");
            await using var sender = StreamkitProcess.Start("send", "--to", $"tcp://127.0.0.1:{port}", "--control", "unix:" + socket, "--json");
            await sender.WaitForLineAsync(l => l.Contains("\"event\":\"control\"", StringComparison.Ordinal));

            var (exit, stdout, stderr) = await RunPythonAsync("--refused", socket);
            Assert.True(exit == 0, $"vmm_pair.py exited {exit}: {stderr}\nsend stderr:\n{sender.Stderr}");
            using var summary = JsonDocument.Parse(stdout);
            foreach (var error in summary.RootElement.GetProperty("start_errors").EnumerateArray())
            {
                Assert.Equal("operation-failed", error.GetProperty("code").GetString());
                Assert.Contains("refused", error.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
            }
            var failed = summary.RootElement.GetProperty("failed");
            Assert.Equal("Cancelled", failed.GetProperty("reason").GetString());
            Assert.Equal(505, failed.GetProperty("reason_code").GetInt32());

            Assert.Equal(130, await sender.WaitForExitAsync());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static Task<(int Exit, string Stdout, string Stderr)> RunDriverAsync(string source, string destination, bool discard) =>
        RunPythonAsync([source, destination, PrecopyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            StopCopyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), .. (discard ? new[] { "--discard" } : [])]);

    private static async Task<(int Exit, string Stdout, string Stderr)> RunPythonAsync(params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Control.SourceTree.Find("tests", "StreamKit.Tests", "Cli", "vmm_pair.py"));
        foreach (string a in args) start.ArgumentList.Add(a);
        using var python = Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = python.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await python.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!python.HasExited) python.Kill();
        }
        return (python.ExitCode, await stdout, await stderr);
    }
}
