using System.Text;
using StreamKit.Device;
using StreamKit.Transport.Control;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Control;

/// <summary>
/// A scripted source-side conversation: the test plays the VMM (control client + the pipes standing
/// in for data_fds) and the sender (calls on the ControlledDevices the session received).
/// </summary>
public sealed class SourceConversationTests
{
    private static string ReadAvailable(IMigrationDataChannel channel, out DataReadStatus end)
    {
        var text = new StringBuilder();
        var buffer = new byte[64];
        while (true)
        {
            var r = channel.Read(buffer);
            if (r.Status != DataReadStatus.Data)
            {
                end = r.Status;
                return text.ToString();
            }
            text.Append(Encoding.ASCII.GetString(buffer, 0, r.Count));
        }
    }

    [Fact]
    public async Task FullSourceConversation()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        using var pre = TestPipe.Create(nonBlockingRead: true);  // device 1: PRE_COPY fd
        using var fresh = TestPipe.Create(nonBlockingRead: true); // device 1 after a reset: new PRE_COPY fd
        using var stop = TestPipe.Create();                       // device 2: STOP_COPY fd (no PRE_COPY)

        (await f.Request("add-device", w =>
        {
            Fields.SourceDevice(1, "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", flags: 5, estimate: 4096)(w);
            w.WriteNumber("initial_bytes", 7);
            w.WriteNumber("dirty_bytes", 0);
        }, pre.Read)).EnsureOk();
        (await f.Request("add-device", Fields.SourceDevice(2, "0000:65:00.1", flags: 1, estimate: null))).EnsureOk();
        (await f.Request("start")).EnsureOk();
        Assert.Equal(["start:1,2"], f.Session.Calls);
        var dev1 = f.Session.Devices[0];
        var dev2 = f.Session.Devices[1];
        Assert.Equal(("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "mtty", MigrationFeatures.StopCopy | MigrationFeatures.PreCopy), (dev1.Name, dev1.DriverHint, dev1.Features));
        Assert.Equal(4096ul, dev1.GetStopCopySizeEstimate());
        Assert.Null(dev2.GetStopCopySizeEstimate());

        // Pre-copy: the sender takes the PRE_COPY channel; the VMM's first hint stands in for the ioctl a pipe lacks.
        Assert.Equal(MigrationState.Running, dev1.GetState());
        var channel1 = dev1.SetState(MigrationState.PreCopy)!;
        Assert.Equal(MigrationState.PreCopy, dev1.GetState());
        Assert.Equal(new PrecopyInfo(7, 0), channel1.GetPrecopyInfo());
        pre.WriteAll("initial"u8);
        Assert.Equal("initial", ReadAvailable(channel1, out var end));
        Assert.Equal(DataReadStatus.TemporaryEnd, end); // EAGAIN in PRE_COPY: more may come
        (await f.Request("precopy-info", w => { w.WriteNumber("device", 1); w.WriteNumber("initial_bytes", 0); w.WriteNumber("dirty_bytes", 3); })).EnsureOk();
        Assert.Equal(new PrecopyInfo(0, 3), channel1.GetPrecopyInfo());

        // The guest resets device 1: the VMM discards; the old fd dies even though its pipe still has bytes.
        pre.WriteAll("stale"u8);
        (await f.Request("discard", w => { w.WriteNumber("device", 1); w.WriteNumber("initial_bytes", 5); w.WriteNumber("dirty_bytes", 0); }, fresh.Read)).EnsureOk();
        Assert.Equal(DataReadStatus.DeadSession, channel1.Read(new byte[16]).Status);
        Assert.Null(channel1.GetPrecopyInfo());
        Assert.Equal(MigrationState.Running, dev1.GetState());
        pre.Read.Dispose();
        Assert.True(pre.ReadEndClosedEverywhere(), "the discarded PRE_COPY fd was kept open"); // closed before the sender disposes
        channel1.Dispose();
        var channel1b = dev1.SetState(MigrationState.PreCopy)!;
        Assert.Equal(1u, dev1.Epoch);
        fresh.WriteAll("again"u8);
        Assert.Equal("again", ReadAvailable(channel1b, out _));

        // Status while pre-copy runs.
        var status = (await f.Request("status")).EnsureOk().Body;
        Assert.Equal("pre-copy", status.GetProperty("phase").GetString());
        Assert.Equal(1234, status.GetProperty("stream_bytes").GetInt64());
        var d1 = status.GetProperty("devices")[0];
        Assert.Equal(("pre-copy", 1, 12L), (d1.GetProperty("state").GetString(), d1.GetProperty("epoch").GetInt32(), d1.GetProperty("precopy_bytes").GetInt64()));
        Assert.Equal(5, d1.GetProperty("pending_precopy_bytes").GetInt64());
        Assert.Equal("running", status.GetProperty("devices")[1].GetProperty("state").GetString());

        // Switchover waits for the destination's ack; other requests are answered meanwhile.
        f.Session.SwitchoverGate = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var switchover = f.Request("switchover");
        (await f.Request("status")).EnsureOk();
        Assert.False(switchover.IsCompleted);
        f.Session.SwitchoverGate.SetResult(true);
        Assert.True((await switchover).EnsureOk().Body.GetProperty("acked").GetBoolean());
        Assert.Contains("switchover:True", f.Session.Calls);

        // The sender asks for STOP_COPY; it completes when the VMM's handovers arrive.
        var toStopCopy1 = Blocking.Run(() => dev1.SetState(MigrationState.StopCopy));
        var toStopCopy2 = Blocking.Run(() => dev2.SetState(MigrationState.StopCopy));
        await Task.Delay(50, f.Timeout);
        Assert.False(toStopCopy1.IsCompleted || toStopCopy2.IsCompleted);
        (await f.Request("stop-copy", w => { w.WriteNumber("device", 1); w.WriteNumber("stop_copy_estimate", 9); })).EnsureOk();
        Assert.Null(await toStopCopy1.WaitAsync(f.Timeout)); // same fd continues
        Assert.True(dev1.StopCopyHandedOver.IsCompleted);
        (await f.Request("stop-copy", Fields.Device(2), stop.Read)).EnsureOk();
        var channel2 = (await toStopCopy2.WaitAsync(f.Timeout))!;

        // STOP_COPY data, then EOF = final end, which tells the VMM the device is done.
        fresh.WriteAll("final"u8);
        fresh.Write.Dispose();
        Assert.Equal("final", ReadAvailable(channel1b, out end));
        Assert.Equal(DataReadStatus.FinalEnd, end);
        var done1 = await f.Client.WaitForEventAsync("device-done", f.Timeout);
        Assert.Equal((1, 1, 12L, 5L), (done1.GetProperty("device").GetInt32(), done1.GetProperty("epoch").GetInt32(),
            done1.GetProperty("precopy_bytes").GetInt64(), done1.GetProperty("stop_copy_bytes").GetInt64()));
        Assert.Null(dev1.SetState(MigrationState.Stop)); // no second device-done
        channel1b.Dispose();

        stop.WriteAll("whole state of device 2"u8);
        stop.Write.Dispose();
        Assert.Equal("whole state of device 2", ReadAvailable(channel2, out end));
        Assert.Equal(DataReadStatus.FinalEnd, end);
        var done2 = await f.Client.WaitForEventAsync("device-done", f.Timeout);
        Assert.Equal((2, 0L, 23L), (done2.GetProperty("device").GetInt32(), done2.GetProperty("precopy_bytes").GetInt64(), done2.GetProperty("stop_copy_bytes").GetInt64()));
        channel2.Dispose();

        // The session reports the end; later device ops are refused, status still answers.
        f.Session.Events!.Publish(new SwitchoverReadyEvent());
        f.Session.Events.Publish(new CompletedEvent(2, 40));
        ControlAssert.Event(await f.Client.NextMessageAsync(f.Timeout), "switchover-ready");
        var completed = await f.Client.NextMessageAsync(f.Timeout);
        ControlAssert.Event(completed, "completed");
        Assert.Equal(2, completed.GetProperty("devices").GetInt32());
        ControlAssert.Error(await f.Request("stop-copy", Fields.Device(2)), ControlErrorCode.BadState);
        var final = (await f.Request("status")).EnsureOk().Body.GetProperty("devices");
        Assert.Equal(["done", "done"], final.EnumerateArray().Select(d => d.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task DiscardWhileTheSenderWaitsForStopCopyFailsTheWaitAsADeadSession()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        using var pre = TestPipe.Create(nonBlockingRead: true);
        using var fresh = TestPipe.Create(nonBlockingRead: true);
        (await f.Request("add-device", Fields.SourceDevice(3, "d", flags: 7), pre.Read)).EnsureOk();
        (await f.Request("start")).EnsureOk();
        var device = f.Session.Devices[0];
        using var channel = device.SetState(MigrationState.PreCopyP2P)!;
        Assert.Null(device.SetState(MigrationState.PreCopy)); // P2P steps are the VMM's business
        var waiting = Blocking.Run(() => device.SetState(MigrationState.StopCopy));
        await Task.Delay(30, f.Timeout);
        (await f.Request("discard", Fields.Device(3), fresh.Read)).EnsureOk();
        var e = await Assert.ThrowsAsync<DeviceException>(() => waiting.WaitAsync(f.Timeout));
        Assert.Equal((DeviceErrorKind.DeadSession, MigrationState.Running), (e.Kind, e.State));
        Assert.NotNull(device.SetState(MigrationState.PreCopy));
    }

    [Fact]
    public async Task FailedEventAbortsWaitsAndRollbackIsOnlyRecorded()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Source);
        (await f.Request("add-device", Fields.SourceDevice(4, "d", flags: 1))).EnsureOk();
        (await f.Request("start")).EnsureOk();
        var device = f.Session.Devices[0];
        Assert.Throws<DeviceException>(() => device.SetState(MigrationState.PreCopy)); // no PRE_COPY feature
        Assert.Throws<DeviceException>(() => device.SetState(MigrationState.Resuming)); // never on a source
        var waiting = Blocking.Run(() => device.SetState(MigrationState.Stop));
        f.Session.Events!.Publish(new FailedEvent(StreamErrorCode.ConnectionFailed, "destination went away"));
        var failed = await f.Client.WaitForEventAsync("failed", f.Timeout);
        Assert.Equal(("ConnectionFailed", 506), (failed.GetProperty("reason").GetString(), failed.GetProperty("reason_code").GetInt32()));
        await Assert.ThrowsAsync<DeviceException>(() => waiting.WaitAsync(f.Timeout));
        Assert.Null(device.SetState(MigrationState.Running));
        Assert.Equal(MigrationState.Running, device.GetState());
    }
}
