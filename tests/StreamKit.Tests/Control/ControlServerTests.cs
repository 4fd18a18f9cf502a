using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using StreamKit.Transport.Control;
using Xunit;

namespace StreamKit.Tests.Control;

public sealed class ControlServerTests
{
    [Fact]
    public async Task HelloNegotiatesVersionAndReportsRoleAndLimits()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Destination, hello: false);
        var reply = (await f.Client.HelloAsync(version: 4, f.Timeout)).EnsureOk();
        Assert.Equal(1, reply.Body.GetProperty("version").GetInt32());
        Assert.Equal("destination", reply.Body.GetProperty("role").GetString());
        Assert.Equal("streamkit-test", reply.Body.GetProperty("server").GetString());
        Assert.Equal(65536, reply.Body.GetProperty("max_line").GetInt32());
        Assert.Equal(8, reply.Body.GetProperty("max_fds").GetInt32());
    }

    [Fact]
    public async Task RequestsBeforeHelloAndUnsupportedVersionsAreRefused()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source, hello: false);
        ControlAssert.Error(await f.Request("status"), ControlErrorCode.HelloRequired);
        ControlAssert.Error(await f.Client.HelloAsync(version: 0, f.Timeout), ControlErrorCode.UnsupportedVersion);
        (await f.Client.HelloAsync(cancellationToken: f.Timeout)).EnsureOk();
        ControlAssert.Error(await f.Client.HelloAsync(cancellationToken: f.Timeout), ControlErrorCode.BadState);
        (await f.Request("status")).EnsureOk();
    }

    [Fact]
    public async Task MalformedLinesGetErrorRepliesAndTheConnectionStaysUsable()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        ControlAssert.Error(await f.RawLine("{\"id\":7,\"op\":"), ControlErrorCode.BadJson, null);
        ControlAssert.Error(await f.RawLine("{\"id\":8,\"op\":\"teleport\"}"), ControlErrorCode.UnknownOp, 8);
        ControlAssert.Error(await f.RawLine("{\"id\":9,\"op\":\"add-device\",\"device\":1,\"name\":\"n\"}"), ControlErrorCode.MissingField, 9);
        ControlAssert.Error(await f.RawLine("{\"id\":10,\"op\":\"add-device\",\"device\":true,\"name\":\"n\",\"migration_flags\":1}"), ControlErrorCode.BadType, 10);
        ControlAssert.Error(await f.RawLine("{\"id\":11,\"op\":\"resume-fd\",\"device\":1,\"epoch\":1}"), ControlErrorCode.WrongRole, 11);

        await f.Client.SendRawAsync(new byte[] { 0x7B, 0xFF, 0xFE, 0x7D, 0x0A }, null, f.Timeout);
        var invalidUtf8 = await f.Client.NextMessageAsync(f.Timeout);
        ControlAssert.Error(invalidUtf8, ControlErrorCode.BadJson, null);
        Assert.Contains("UTF-8", invalidUtf8.GetProperty("error").GetProperty("message").GetString());

        await f.Client.SendRawAsync("\n  \r\n\t\n"u8.ToArray(), null, f.Timeout); // blank lines are ignored
        (await f.Request("status")).EnsureOk();
    }

    [Fact]
    public async Task RequestsSplitIntoManyWritesAndManyRequestsInOneWrite()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        byte[] line = "{\"id\":100,\"op\":\"status\"}\n"u8.ToArray();
        foreach (byte b in line)
        {
            await f.Client.SendRawAsync(new[] { b }, null, f.Timeout);
            await Task.Yield();
        }
        Assert.Equal(100, (await f.Client.NextMessageAsync(f.Timeout)).GetProperty("id").GetInt64());

        var many = new StringBuilder();
        for (int i = 0; i < 50; i++) many.Append($"{{\"id\":{200 + i},\"op\":\"status\"}}\n");
        await f.Client.SendRawAsync(Encoding.ASCII.GetBytes(many.ToString()), null, f.Timeout);
        for (int i = 0; i < 50; i++)
        {
            var reply = await f.Client.NextMessageAsync(f.Timeout);
            Assert.Equal(200 + i, reply.GetProperty("id").GetInt64());
            Assert.True(reply.GetProperty("ok").GetBoolean());
        }
    }

    [Fact]
    public async Task LineTooLongIsAnsweredThenTheConnectionCloses()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        var junk = new byte[ControlLimits.MaxLineBytes + 100];
        Array.Fill(junk, (byte)' ');
        await f.Client.SendRawAsync(junk, null, f.Timeout);
        var reply = await f.Client.NextMessageAsync(f.Timeout);
        ControlAssert.Error(reply, ControlErrorCode.LineTooLong, null);
        await f.Client.Completion.WaitAsync(f.Timeout); // the server closed
    }

    [Fact]
    public async Task FdOnARequestThatTakesNoneIsClosed()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        using var pipe = TestPipe.Create();
        ControlAssert.Error(await f.Request("status", null, pipe.Read), ControlErrorCode.UnexpectedFd);
        ControlAssert.Error(await f.RawLine("   ", pipe.Read), ControlErrorCode.UnexpectedFd, null); // fd on a blank line
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere(), "the server kept a copy of an unexpected fd");
    }

    [Fact]
    public async Task FdNotOnTheFirstByteOfItsLineIsRefusedAndClosed()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        using var pipe = TestPipe.Create();
        await f.Client.SendRawAsync("{\"id\":31,\"op\":"u8.ToArray(), null, f.Timeout);
        await Task.Delay(50, f.Timeout); // let the server receive the first part alone
        await f.Client.SendRawAsync("\"status\"}\n"u8.ToArray(), [pipe.Read], f.Timeout);
        ControlAssert.Error(await f.Client.NextMessageAsync(f.Timeout), ControlErrorCode.UnexpectedFd, 31);
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere());
    }

    [Fact]
    public async Task TooManyFdsAreRefusedAndNoneLeaks()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Destination);
        using var pipe = TestPipe.Create();
        using var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await f.Client.DisposeAsync(); // free the single connection slot
        await WaitUntil(() => !f.Server.HasClient, f.Timeout);
        raw.Connect(new UnixDomainSocketEndPoint(f.SocketPath));
        raw.Send("{\"id\":1,\"op\":\"hello\",\"version\":1}\n"u8);
        ScmRightsTests.SendRaw(raw, "{\"id\":2,\"op\":\"add-device\",\"device\":1}\n"u8, Enumerable.Repeat(pipe.Read.Fd, 10).ToArray());
        var replies = await ReadLines(raw, 2, f.Timeout);
        Assert.True(replies[0].GetProperty("ok").GetBoolean());
        ControlAssert.Error(replies[1], ControlErrorCode.TooManyFds, 2);
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere());
        Assert.Empty(f.Handler.Devices);
    }

    [Fact]
    public async Task SecondConnectionIsBusyUntilTheFirstCloses()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        await using (var second = await ControlClient.ConnectAsync(f.SocketPath, f.Timeout))
        {
            ControlAssert.Error(await second.NextMessageAsync(f.Timeout), ControlErrorCode.Busy, null);
            await second.Completion.WaitAsync(f.Timeout);
        }
        await f.Client.DisposeAsync();
        await WaitUntil(() => !f.Server.HasClient, f.Timeout);
        await using var third = await ControlClient.ConnectAsync(f.SocketPath, f.Timeout);
        (await third.HelloAsync(cancellationToken: f.Timeout)).EnsureOk();
    }

    [Fact]
    public async Task SocketFileIsPrivateStaleOnesAreReplacedLiveOnesAndOtherFilesRefused()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        Assert.True(OperatingSystem.IsLinux(), "the control socket is Linux-only");
        if (OperatingSystem.IsLinux()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f.SocketPath));
        var live = Assert.Throws<IOException>(() => new ControlServer(f.SocketPath, new SourceControlHandler(new RecordingSession())));
        Assert.Contains("in use", live.Message);

        string stale = Path.Combine(f.Directory, "stale.sock");
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            dead.Bind(new UnixDomainSocketEndPoint(stale)); // bound, never listening, closed: a leftover file
        await using (var replaced = new ControlServer(stale, new SourceControlHandler(new RecordingSession())))
            Assert.True(File.Exists(stale));
        Assert.False(File.Exists(stale)); // removed on dispose

        string regular = Path.Combine(f.Directory, "not-a-socket");
        File.WriteAllText(regular, "keep me");
        Assert.Throws<IOException>(() => new ControlServer(regular, new SourceControlHandler(new RecordingSession())));
        Assert.Equal("keep me", File.ReadAllText(regular));
    }

    [Fact]
    public async Task DeviceLevelErrorCodes()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        using var pre = TestPipe.Create(nonBlockingRead: true);
        using var extra = TestPipe.Create();
        (await f.Request("add-device", Fields.SourceDevice(1, "pre"), pre.Read)).EnsureOk();
        (await f.Request("add-device", Fields.SourceDevice(2, "no-pre", flags: 1))).EnsureOk();
        ControlAssert.Error(await f.Request("add-device", Fields.SourceDevice(1, "again")), ControlErrorCode.DuplicateDevice);
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(3)), ControlErrorCode.UnknownDevice);
        ControlAssert.Error(await f.Request("switchover"), ControlErrorCode.BadState);        // before start
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(1), extra.Read), ControlErrorCode.UnexpectedFd);
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(2)), ControlErrorCode.FdMissing);
        ControlAssert.Error(await f.Request("precopy-info", w => { w.WriteNumber("device", 2); w.WriteNumber("initial_bytes", 1); w.WriteNumber("dirty_bytes", 0); }), ControlErrorCode.BadState);
        ControlAssert.Error(await f.Request("discard", Fields.Device(2), extra.Read), ControlErrorCode.BadState);
        (await f.Request("start")).EnsureOk();
        Assert.Equal(["start:1,2"], f.Session.Calls);
        ControlAssert.Error(await f.Request("start"), ControlErrorCode.BadState);
        ControlAssert.Error(await f.Request("add-device", Fields.SourceDevice(9, "late", flags: 1)), ControlErrorCode.BadState);
        (await f.Request("stop-copy", Fields.Device(1))).EnsureOk();
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(1)), ControlErrorCode.BadState);
        ControlAssert.Error(await f.Request("discard", Fields.Device(1), extra.Read), ControlErrorCode.BadState); // reset in STOP_COPY: fatal
        extra.Read.Dispose();
        Assert.True(extra.ReadEndClosedEverywhere(), "a refused request's fd was kept");
    }

    [Fact]
    public async Task DestinationErrorCodes()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Destination);
        using var pipe = TestPipe.Create();
        ControlAssert.Error(await f.Request("start"), ControlErrorCode.BadState); // no devices
        (await f.Request("add-device", Fields.Device(1), pipe.Write)).EnsureOk();
        ControlAssert.Error(await f.Request("add-device", Fields.Device(1), pipe.Write), ControlErrorCode.DuplicateDevice);
        ControlAssert.Error(await f.Request("resume-fd", w => { w.WriteNumber("device", 1); w.WriteNumber("epoch", 0); }, pipe.Write), ControlErrorCode.BadState);
        ControlAssert.Error(await f.Request("commit-result", w => { w.WriteNumber("device", 1); w.WriteNumber("epoch", 0); w.WriteBoolean("ok", true); }), ControlErrorCode.BadState);
        ControlAssert.Error(await f.Request("commit-result", w => { w.WriteNumber("device", 5); w.WriteNumber("epoch", 0); w.WriteBoolean("ok", true); }), ControlErrorCode.UnknownDevice);
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(1)), ControlErrorCode.WrongRole);
    }

    [Fact]
    public async Task SessionFailuresBecomeOperationFailed()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        f.Session.StartFailure = new SocketException((int)SocketError.ConnectionRefused);
        (await f.Request("add-device", Fields.SourceDevice(1, "n", flags: 1))).EnsureOk();
        var reply = await f.Request("start");
        ControlAssert.Error(reply, ControlErrorCode.OperationFailed);
        Assert.Contains("start failed", reply.ErrorMessage);
        f.Session.StartFailure = null; // the cause is fixed: start may be retried
        (await f.Request("start")).EnsureOk();
        Assert.Equal(["start:1", "start:1"], f.Session.Calls);
    }

    [Fact]
    public async Task CancelAbortsTheSessionAndEndsTheMigration()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        (await f.Request("add-device", Fields.SourceDevice(1, "n", flags: 1))).EnsureOk();
        (await f.Request("start")).EnsureOk();
        var device = f.Session.Devices[0];
        var waiting = Blocking.Run(() => device.SetState(StreamKit.Device.MigrationState.StopCopy));
        (await f.Request("cancel", w => w.WriteString("reason", "operator said so"))).EnsureOk();
        Assert.Equal("operator said so", await f.Session.Cancelled.Task.WaitAsync(f.Timeout));
        var failed = await f.Client.WaitForEventAsync("failed", f.Timeout);
        Assert.Equal("Cancelled", failed.GetProperty("reason").GetString());
        Assert.Equal(505, failed.GetProperty("reason_code").GetInt32());
        var e = await Assert.ThrowsAsync<StreamKit.Device.DeviceException>(() => waiting.WaitAsync(f.Timeout));
        Assert.Equal(StreamKit.Device.DeviceErrorKind.Unavailable, e.Kind);
        ControlAssert.Error(await f.Request("cancel"), ControlErrorCode.BadState);
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(1)), ControlErrorCode.BadState);
        (await f.Request("status")).EnsureOk(); // status always works
    }

    [Fact]
    public async Task LosingTheVmmAfterStartCancelsAndBeforeStartForgetsTheDevices()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        using var pipe = TestPipe.Create();
        (await f.Request("add-device", Fields.SourceDevice(1, "n"), pipe.Read)).EnsureOk();
        await f.Client.DisposeAsync();
        await WaitUntil(() => f.Handler.Devices.Count == 0, f.Timeout);
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere(), "a forgotten device's fd was kept");

        await using var again = await ControlClient.ConnectAsync(f.SocketPath, f.Timeout);
        (await again.HelloAsync(cancellationToken: f.Timeout)).EnsureOk();
        (await again.RequestAsync("add-device", Fields.SourceDevice(1, "n", flags: 1), null, f.Timeout)).EnsureOk();
        (await again.RequestAsync("start", null, null, f.Timeout)).EnsureOk();
        again.ShutdownSend();
        string reason = await f.Session.Cancelled.Task.WaitAsync(f.Timeout);
        Assert.StartsWith("control connection lost", reason);
    }

    [Fact]
    public async Task CancelEndsAWaitingSwitchoverWithCancelled()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        (await f.Request("add-device", Fields.SourceDevice(1, "n", flags: 1))).EnsureOk();
        (await f.Request("start")).EnsureOk();
        f.Session.SwitchoverGate = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var switchover = f.Request("switchover", w => w.WriteBoolean("wait_ack", true));
        (await f.Request("cancel")).EnsureOk();
        ControlAssert.Error(await switchover, ControlErrorCode.Cancelled);
    }

    /// <summary>A handler with a bug: whatever escapes it becomes internal-error, and the server lives on.</summary>
    private sealed class BrokenHandler : IControlHandler
    {
        public ControlRole Role => ControlRole.Source;
        public void Attach(IControlEventSink events) { }
        public void OnDisconnected(string reason) => throw new InvalidOperationException("bug in OnDisconnected");
        public ValueTask<ControlReply?> HandleAsync(ControlRequest request, CancellationToken cancellationToken) => request switch
        {
            StatusRequest => throw new NullReferenceException("synchronous bug"),
            _ => Later(),
        };

        private static async ValueTask<ControlReply?> Later()
        {
            await Task.Yield();
            throw new IndexOutOfRangeException("asynchronous bug");
        }
    }

    [Fact]
    public async Task HandlerBugsBecomeInternalErrorAndTheServerSurvives()
    {
        string directory = ControlFixture.NewDirectory();
        await using var server = new ControlServer(Path.Combine(directory, "b.sock"), new BrokenHandler());
        server.Start();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        for (int round = 0; round < 2; round++) // OnDisconnected throwing must not stop the server either
        {
            await using var client = await ControlClient.ConnectAsync(server.Path, timeout.Token);
            (await client.HelloAsync(cancellationToken: timeout.Token)).EnsureOk();
            var sync = await client.RequestAsync("status", null, null, timeout.Token);
            ControlAssert.Error(sync, ControlErrorCode.InternalError);
            Assert.Contains("synchronous bug", sync.ErrorMessage);
            var async = await client.RequestAsync("start", null, null, timeout.Token);
            ControlAssert.Error(async, ControlErrorCode.InternalError);
            Assert.Contains("asynchronous bug", async.ErrorMessage);
            await client.DisposeAsync();
            await WaitUntil(() => !server.HasClient, timeout.Token);
        }
        Directory.Delete(directory, true);
    }

    [Fact]
    public async Task PeersOfAnotherUidArePermissionDenied()
    {
        string directory = ControlFixture.NewDirectory();
        bool root = StreamKit.Transport.Native.LibC.GetEffectiveUserId() == 0;
        // As root (always allowed) a peer of another uid is needed: python3 under setpriv as nobody.
        // Otherwise this process itself is the foreign peer: allow some other uid only.
        await using var server = new ControlServer(Path.Combine(directory, "p.sock"), new SourceControlHandler(new RecordingSession()),
            allowedUid: root ? null : 4_000_000_000u);
        server.Start();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        JsonElement reply;
        if (root)
        {
            if (OperatingSystem.IsLinux())
            {
                File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
                File.SetUnixFileMode(server.Path, (UnixFileMode)0b110_110_110); // let the foreign peer reach SO_PEERCRED
            }
            var start = new System.Diagnostics.ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
            string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; // not a shim under /root
            foreach (string a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(s.makefile().readline(), end='')", server.Path })
                start.ArgumentList.Add(a);
            using var peer = System.Diagnostics.Process.Start(start)!;
            string line = await peer.StandardOutput.ReadToEndAsync(timeout.Token);
            await peer.WaitForExitAsync(timeout.Token);
            Assert.True(peer.ExitCode == 0, await peer.StandardError.ReadToEndAsync());
            reply = JsonDocument.Parse(line).RootElement.Clone();
        }
        else
        {
            await using var client = await ControlClient.ConnectAsync(server.Path, timeout.Token);
            reply = await client.NextMessageAsync(timeout.Token);
            await client.Completion.WaitAsync(timeout.Token);
        }
        ControlAssert.Error(reply, ControlErrorCode.PermissionDenied, null);
        string peerUid = root ? "65534" : StreamKit.Transport.Native.LibC.GetEffectiveUserId().ToString();
        Assert.Contains($"(uid {peerUid})", reply.GetProperty("error").GetProperty("message").GetString());
        Assert.False(server.HasClient);
        Directory.Delete(directory, true);
    }

    [Fact]
    public void EveryErrorCodeIsSpecifiedAndNamedUniquely()
    {
        string spec = File.ReadAllText(SourceTree.Find("spec", "control-protocol.md"));
        var names = ControlErrorCodes.All.Select(c => c.Name()).ToArray();
        Assert.Equal(names.Length, names.Distinct().Count());
        foreach (var code in ControlErrorCodes.All)
        {
            Assert.Contains($"| `{code.Name()}` |", spec);
            Assert.Equal(code, ControlErrorCodes.Parse(code.Name()));
        }
        Assert.Null(ControlErrorCodes.Parse("no-such-code"));
    }

    internal static async Task WaitUntil(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition()) await Task.Delay(10, cancellationToken);
    }

    private static async Task<JsonElement[]> ReadLines(Socket socket, int count, CancellationToken cancellationToken)
    {
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        var lines = new List<JsonElement>();
        while (lines.Count < count)
        {
            int n = await socket.ReceiveAsync(chunk, SocketFlags.None, cancellationToken);
            if (n == 0) break;
            buffer.AddRange(chunk.AsSpan(0, n));
            int lf;
            while ((lf = buffer.IndexOf((byte)'\n')) >= 0)
            {
                lines.Add(JsonDocument.Parse(buffer.GetRange(0, lf).ToArray()).RootElement.Clone());
                buffer.RemoveRange(0, lf + 1);
            }
        }
        return [.. lines];
    }
}
