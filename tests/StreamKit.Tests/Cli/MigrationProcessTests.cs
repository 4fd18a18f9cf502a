using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>
/// Migrations between `streamkit` processes: demo, send → receive over TCP (a source reset during
/// pre-copy recovered by a discard; two channels), save → inspect → verify → restore, manual
/// switchover, cancellation, connection and TLS failures. Simulated devices print their state digests
/// in the --json result, so source and destination state are compared across processes.
/// </summary>
public sealed class MigrationProcessTests
{
    private static string Digest(JsonElement result, int id) =>
        result.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("id").GetInt32() == id).GetProperty("state_digest").GetString()!;

    private static JsonElement Device(JsonElement result, int id) =>
        result.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("id").GetInt32() == id);

    private static string SpecDigest(string spec) => JsonHex(new SimulatedDevice(SimulatedDeviceSpec.Parse(spec)).StateDigest);

    private static string JsonHex(ulong value) => value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task DemoVerifiesTheDestinationStateAndShowsTheDiscard()
    {
        await using var text = await StreamkitProcess.RunAsync("demo", "--size", "4MiB", "--channels", "2");
        text.AssertExit(0);
        Assert.Contains("destination state verified equal to source", text.Stdout);
        Assert.Contains("Discards", text.Stdout);

        await using var json = await StreamkitProcess.RunAsync("demo", "--size", "4MiB", "--compress", "lz4", "--json");
        json.AssertExit(0);
        var result = json.LastEvent("result");
        Assert.True(result.GetProperty("verified").GetBoolean());
        Assert.Equal(1, Device(result.GetProperty("sender"), 1).GetProperty("discards").GetInt32());
        Assert.True(Device(result.GetProperty("sender"), 1).GetProperty("discarded_bytes").GetInt64() > 0);
        foreach (var d in result.GetProperty("digests").EnumerateArray())
        {
            Assert.Equal(d.GetProperty("source").GetString(), d.GetProperty("destination").GetString());
            Assert.NotEqual(d.GetProperty("source").GetString(), d.GetProperty("destination_before").GetString());
        }
        Assert.Contains(json.JsonLines, l => l.GetProperty("event").GetString() == "progress");
    }

    [Fact]
    public async Task SendToReceiveOverTcpRecoversAResetDuringPrecopyWithADiscard()
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json",
            "--device", "sim:profile=mlx5,size=4MiB,seed=7,zero=20%,state=blank");
        string address = await receiver.ListeningAddressAsync();
        Assert.Matches(@"^tcp://127\.0\.0\.1:[1-9][0-9]*$", address); // port 0 became the real port
        await using var sender = StreamkitProcess.Start("send", "--to", address, "--json",
            "--device", "sim:profile=mlx5,size=4MiB,seed=7,zero=20%,reset-at=40%");

        Assert.Equal(0, await sender.WaitForExitAsync());
        Assert.Equal(0, await receiver.WaitForExitAsync());
        var sent = sender.LastEvent("result");
        var received = receiver.LastEvent("result");
        Assert.True(sent.GetProperty("ok").GetBoolean());
        Assert.Equal(1, Device(sent, 1).GetProperty("discards").GetInt32());
        Assert.True(Device(sent, 1).GetProperty("discarded_bytes").GetInt64() > 0);
        Assert.Equal(1, Device(received, 1).GetProperty("discards").GetInt32());
        Assert.True(Device(received, 1).GetProperty("committed").GetBoolean());
        Assert.Equal(Digest(sent, 1), Digest(received, 1));
        Assert.NotEqual(SpecDigest("sim:profile=mlx5,size=4MiB,seed=7,zero=20%,state=blank"), Digest(received, 1));
        Assert.Contains(sender.JsonLines, l => l.GetProperty("event").GetString() == "progress");
    }

    [Fact]
    public async Task SendToReceiveOverTwoChannelsWithTwoDevicesAndLz4()
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json",
            "--device", "sim:profile=mlx5,size=4MiB,seed=9,zero=30%,state=blank", "--device", "sim:profile=mtty,seed=9,state=blank");
        string address = await receiver.ListeningAddressAsync();
        await using var sender = StreamkitProcess.Start("send", "--to", address + "?channels=2", "--compress", "lz4", "--json",
            "--device", "sim:profile=mlx5,size=4MiB,seed=9,zero=30%", "--device", "sim:profile=mtty,seed=9");

        Assert.Equal(0, await sender.WaitForExitAsync());
        Assert.Equal(0, await receiver.WaitForExitAsync());
        var sent = sender.LastEvent("result");
        var received = receiver.LastEvent("result");
        Assert.Equal(2, sent.GetProperty("channels").GetInt32());
        Assert.Equal(2, received.GetProperty("channels").GetInt32());
        Assert.Equal(sent.GetProperty("stream_id").GetString(), received.GetProperty("stream_id").GetString());
        foreach (int id in new[] { 1, 2 }) Assert.Equal(Digest(sent, id), Digest(received, id));
        // 30 % zero pages: LZ4 pays, so fewer bytes travel than the device produced.
        var mlx5 = Device(sent, 1);
        Assert.True(mlx5.GetProperty("wire_bytes").GetInt64() < mlx5.GetProperty("precopy_bytes").GetInt64() + mlx5.GetProperty("stop_copy_bytes").GetInt64());
    }

    [Fact]
    public async Task SaveInspectVerifyRestoreRoundTrip()
    {
        string dir = Directory.CreateTempSubdirectory("sk-save-").FullName;
        try
        {
            string file = Path.Combine(dir, "state.skm");
            await using var save = await StreamkitProcess.RunAsync("save", "--to", "file:" + file, "--json",
                "--device", "sim:profile=mlx5,size=2MiB,seed=3,zero=50%,reset-at=30%", "--device", "sim:profile=mtty,seed=3,id=5");
            save.AssertExit(0);
            var saved = save.LastEvent("result");
            Assert.Equal(1, Device(saved, 1).GetProperty("discards").GetInt32());

            await using var inspect = await StreamkitProcess.RunAsync("inspect", "--json", file);
            inspect.AssertExit(0);
            var report = inspect.LastEvent("inspect");
            Assert.Equal(saved.GetProperty("stream_id").GetString(), report.GetProperty("stream_id").GetString());
            var mlx5 = report.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("id").GetInt32() == 1);
            Assert.Equal(1, mlx5.GetProperty("discards").GetInt32());
            Assert.Equal(2, mlx5.GetProperty("epochs").GetArrayLength());
            Assert.True(mlx5.GetProperty("zero_bytes").GetInt64() > 0);
            Assert.Equal(5, report.GetProperty("devices")[1].GetProperty("id").GetInt32());

            await using var verify = await StreamkitProcess.RunAsync("verify", file);
            verify.AssertExit(0);

            await using var restore = await StreamkitProcess.RunAsync("restore", "--from", "file:" + file, "--json",
                "--device", "sim:profile=mlx5,size=2MiB,seed=3,zero=50%,state=blank", "--device", "sim:profile=mtty,seed=3,state=blank,id=5");
            restore.AssertExit(0);
            var restored = restore.LastEvent("result");
            Assert.Equal(Digest(saved, 1), Digest(restored, 1));
            Assert.Equal(Digest(saved, 5), Digest(restored, 5));

            // The same file with one flipped byte: refused before any of it is committed, devices reset.
            byte[] image = File.ReadAllBytes(file);
            image[image.Length / 2] ^= 0x01;
            string damaged = Path.Combine(dir, "damaged.skm");
            File.WriteAllBytes(damaged, image);
            await using var bad = await StreamkitProcess.RunAsync("verify", "--json", damaged);
            bad.AssertExit(5);
            const string blank = "sim:profile=mlx5,size=2MiB,seed=3,zero=50%,state=blank";
            await using var refused = await StreamkitProcess.RunAsync("restore", "--from", "file:" + damaged, "--json",
                "--device", blank, "--device", "sim:profile=mtty,seed=3,state=blank,id=5");
            refused.AssertExit(5);
            var failure = refused.LastEvent("result");
            Assert.False(failure.GetProperty("ok").GetBoolean());
            Assert.Equal(bad.LastEvent("verify").GetProperty("error").GetProperty("code").GetString(),
                failure.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(SpecDigest(blank), Digest(failure, 1));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task SaveToStdoutPipesIntoRestoreFromStdin()
    {
        string dir = Directory.CreateTempSubdirectory("sk-pipe-").FullName;
        try
        {
            string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
            string streamkit = $"{Quote(StreamkitProcess.DotnetHost)} {Quote(StreamkitProcess.DllPath)}";
            string saveLog = Path.Combine(dir, "save.jsonl");
            string script =
                $"{streamkit} save --to file:/dev/stdout --json --device sim:profile=mlx5,size=2MiB,seed=12,reset-at=50% 2> {Quote(saveLog)}" +
                $" | {streamkit} restore --from file:/dev/stdin --json --device sim:profile=mlx5,size=2MiB,seed=12,state=blank";
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-o");
            start.ArgumentList.Add("pipefail");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(script);
            using var bash = Process.Start(start)!;
            var stdout = bash.StandardOutput.ReadToEndAsync();
            var stderr = bash.StandardError.ReadToEndAsync();
            await bash.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(bash.ExitCode == 0, $"exit {bash.ExitCode}: {await stderr}\nsave: {File.ReadAllText(saveLog)}");

            JsonElement Result(string lines) => lines.Split('\n').Where(l => l.StartsWith('{'))
                .Select(l => JsonDocument.Parse(l).RootElement.Clone()).Last(e => e.GetProperty("event").GetString() == "result");
            var saved = Result(File.ReadAllText(saveLog));
            var restored = Result(await stdout);
            Assert.Equal(1, Device(saved, 1).GetProperty("discards").GetInt32());
            Assert.Equal(Digest(saved, 1), Digest(restored, 1));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task ManualSwitchoverWaitsForEnter()
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json",
            "--device", "sim:profile=mtty,seed=4,state=blank");
        string address = await receiver.ListeningAddressAsync();
        await using var sender = StreamkitProcess.Start("send", "--to", address, "--switchover", "manual", "--json",
            "--device", "sim:profile=mtty,seed=4");
        await sender.WaitForLineAsync(l => l.Contains("\"phase\":\"pre-copy\"", StringComparison.Ordinal));
        await Task.Delay(300);
        Assert.False(sender.StdoutLines.Any(l => l.Contains("\"event\":\"result\"", StringComparison.Ordinal)), "switched over without the operator");
        sender.WriteLine("");
        Assert.Equal(0, await sender.WaitForExitAsync());
        Assert.Equal(0, await receiver.WaitForExitAsync());
        Assert.Contains(sender.JsonLines, l => l.GetProperty("event").GetString() == "switchover");
        Assert.Equal(Digest(sender.LastEvent("result"), 1), Digest(receiver.LastEvent("result"), 1));
    }

    [Fact]
    public async Task SigtermCancelsTheSenderAndTheReceiverLearnsWhy()
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json",
            "--device", "sim:profile=mtty,seed=5,state=blank");
        string address = await receiver.ListeningAddressAsync();
        await using var sender = StreamkitProcess.Start("send", "--to", address, "--switchover", "manual", "--json",
            "--device", "sim:profile=mtty,seed=5");
        await sender.WaitForLineAsync(l => l.Contains("\"phase\":\"pre-copy\"", StringComparison.Ordinal));
        using (var kill = Process.Start("kill", ["-TERM", sender.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();

        Assert.Equal(130, await sender.WaitForExitAsync());
        int receiverExit = await receiver.WaitForExitAsync();
        Assert.NotEqual(0, receiverExit);
        var failure = receiver.LastEvent("result");
        Assert.False(failure.GetProperty("ok").GetBoolean());
        Assert.Contains("Cancelled", failure.GetProperty("error").GetRawText());
        // The source device is back in RUNNING with its state; the destination was reset to its old state.
        Assert.Equal(SpecDigest("sim:profile=mtty,seed=5,state=blank"), Digest(failure, 1));
        Assert.Equal(SpecDigest("sim:profile=mtty,seed=5"), Digest(sender.LastEvent("result"), 1));
    }

    [Theory]
    [InlineData("driver", 0)]
    [InlineData("name", 3)]
    public async Task IdentityCheckComparesTheDriverByDefaultAndTheNameOnRequest(string mode, int exit)
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json", "--identity-check", mode,
            "--device", "sim:profile=mtty,seed=8,state=blank,name=beta");
        string address = await receiver.ListeningAddressAsync();
        await using var sender = await StreamkitProcess.RunAsync("send", "--to", address, "--json", "--device", "sim:profile=mtty,seed=8,name=alpha");
        sender.AssertExit(exit);
        Assert.Equal(exit, await receiver.WaitForExitAsync());
        if (exit == 0) return;
        var failure = receiver.LastEvent("result").GetProperty("error");
        Assert.Equal("DeviceRejected", failure.GetProperty("code").GetString());
        Assert.Contains("'alpha'", failure.GetProperty("message").GetString());
        Assert.Equal("DeviceRejected", sender.LastEvent("result").GetProperty("error").GetProperty("peer_code").GetString());
    }

    [Fact]
    public async Task NobodyListeningIsATransportError()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        await using var sender = await StreamkitProcess.RunAsync("send", "--to", $"tcp://127.0.0.1:{port}", "--json", "--device", "sim:profile=mtty");
        sender.AssertExit(4);
        var failure = sender.LastEvent("result");
        Assert.Equal("transport", failure.GetProperty("error").GetProperty("category").GetString());
    }

    [Fact]
    public async Task MutualTlsMigratesAndAClientWithoutCertificateIsRefused()
    {
        string dir = Directory.CreateTempSubdirectory("sk-tls-").FullName;
        try
        {
            var certs = Transport.TestCertificates.Get();
            string Write(string name, string pem) { string path = Path.Combine(dir, name); File.WriteAllText(path, pem); return path; }
            string ca = Write("ca.pem", certs.Ca.ExportCertificatePem());
            string serverCert = Write("server.pem", certs.Server.ExportCertificatePem());
            string serverKey = Write("server.key", certs.Server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            string clientCert = Write("client.pem", certs.Client.ExportCertificatePem());
            string clientKey = Write("client.key", certs.Client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            string[] server = ["--tls-cert", serverCert, "--tls-key", serverKey, "--tls-ca", ca, "--require-client-cert"];

            await using (var receiver = StreamkitProcess.Start(["receive", "--listen", "tcp://127.0.0.1:0", "--json", "--device", "sim:profile=mtty,seed=6,state=blank", .. server]))
            {
                string address = await receiver.ListeningAddressAsync();
                await using var sender = await StreamkitProcess.RunAsync("send", "--to", address, "--json", "--device", "sim:profile=mtty,seed=6",
                    "--tls-ca", ca, "--tls-cert", clientCert, "--tls-key", clientKey, "--tls-server-name", "localhost");
                sender.AssertExit(0);
                Assert.Equal(0, await receiver.WaitForExitAsync());
                Assert.Equal(Digest(sender.LastEvent("result"), 1), Digest(receiver.LastEvent("result"), 1));
            }

            await using (var receiver = StreamkitProcess.Start(["receive", "--listen", "tcp://127.0.0.1:0", "--json", "--device", "sim:profile=mtty,seed=6,state=blank", .. server]))
            {
                string address = await receiver.ListeningAddressAsync();
                await using var sender = await StreamkitProcess.RunAsync("send", "--to", address, "--json", "--device", "sim:profile=mtty,seed=6", "--tls-ca", ca, "--tls-server-name", "localhost");
                sender.AssertExit(4);
                Assert.Equal("transport", sender.LastEvent("result").GetProperty("error").GetProperty("category").GetString());
                Assert.Contains("give the sender --tls-cert and --tls-key", sender.Stderr); // the hint a user needs here
                Assert.Equal(4, await receiver.WaitForExitAsync());
                Assert.Contains("presented no certificate", receiver.Stderr);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
