using System.Text;
using StreamKit.Device;
using StreamKit.Transport.Control;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Control;

/// <summary>
/// A scripted destination-side conversation: the test plays the VMM (control client, pipes whose
/// write ends stand in for RESUMING data_fds) and the receiver (calls on the ControlledDevices).
/// </summary>
public sealed class DestinationConversationTests
{
    [Fact]
    public async Task FullDestinationConversation()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Destination);
        using var first = TestPipe.Create();  // device 1, epoch 0
        using var second = TestPipe.Create(); // device 1 after the source's discard, epoch 1
        using var other = TestPipe.Create();  // device 2

        (await f.Request("add-device", w => { w.WriteNumber("device", 1); w.WriteString("name", "mtty-a"); w.WriteNumber("migration_flags", 5); }, first.Write)).EnsureOk();
        (await f.Request("add-device", Fields.Device(2), other.Write)).EnsureOk();
        (await f.Request("start")).EnsureOk();
        var dev1 = f.Session.Devices[0];
        var dev2 = f.Session.Devices[1];
        Assert.Equal(("mtty-a", MigrationFeatures.StopCopy | MigrationFeatures.PreCopy), (dev1.ExpectedName, dev1.Features));
        Assert.Null(dev2.ExpectedName);

        // The receiver announces what DEVICE_BEGIN said.
        f.Session.Events!.Publish(new DeviceAnnouncedEvent(1, "mtty-a", "mtty", (MigrationFeatures)5, 4096));
        var announced = await f.Client.WaitForEventAsync("device-announced", f.Timeout);
        Assert.Equal(("mtty-a", 5), (announced.GetProperty("name").GetString(), announced.GetProperty("migration_flags").GetInt32()));

        // Epoch 0: the add-device fd is the RESUMING session.
        var resume0 = dev1.SetState(MigrationState.Resuming)!;
        resume0.Write("epoch zero"u8);
        Assert.Equal("epoch zero", Encoding.ASCII.GetString(TestPipe.ReadExactly(first.Read.Fd, 10)));

        // DISCARD arrives: the receiver resets and asks for RESUMING again; the VMM must hand a new fd.
        dev1.Reset();
        var dead = Assert.Throws<DeviceException>(() => resume0.Write("late"u8));
        Assert.Equal(DeviceErrorKind.DeadSession, dead.Kind);
        first.Write.Dispose();
        Assert.Equal(0, TestPipeReadable(first)); // StreamKit closed its copy of the old write end at the reset: EOF
        resume0.Dispose();
        var toResuming = Blocking.Run(() => dev1.SetState(MigrationState.Resuming));
        var needed = await f.Client.WaitForEventAsync("resume-fd-needed", f.Timeout);
        Assert.Equal((1, 1), (needed.GetProperty("device").GetInt32(), needed.GetProperty("epoch").GetInt32()));
        ControlAssert.Error(await f.Request("resume-fd", w => { w.WriteNumber("device", 1); w.WriteNumber("epoch", 0); }, second.Write), ControlErrorCode.BadState);
        var waitingStatus = (await f.Request("status")).EnsureOk().Body.GetProperty("devices")[0];
        Assert.Equal("waiting-fd", waitingStatus.GetProperty("state").GetString());
        (await f.Request("resume-fd", w => { w.WriteNumber("device", 1); w.WriteNumber("epoch", 1); }, second.Write)).EnsureOk();
        var resume1 = (await toResuming.WaitAsync(f.Timeout))!;
        resume1.Write("epoch one!"u8);
        Assert.Equal("epoch one!", Encoding.ASCII.GetString(TestPipe.ReadExactly(second.Read.Fd, 10)));
        var written = (await f.Request("status")).EnsureOk().Body.GetProperty("devices")[0];
        Assert.Equal(("resuming", 1, 10L), (written.GetProperty("state").GetString(), written.GetProperty("epoch").GetInt32(), written.GetProperty("written_bytes").GetInt64()));

        // All bytes verified: the receiver commits; the VMM does RESUMING → STOP and reports back.
        var commit1 = Blocking.Run(() => dev1.SetState(MigrationState.Stop));
        var complete = await f.Client.WaitForEventAsync("device-complete", f.Timeout);
        Assert.Equal((1, 1, 10L), (complete.GetProperty("device").GetInt32(), complete.GetProperty("epoch").GetInt32(), complete.GetProperty("bytes").GetInt64()));
        Assert.False(commit1.IsCompleted);
        (await f.Request("commit-result", w => { w.WriteNumber("device", 1); w.WriteNumber("epoch", 1); w.WriteBoolean("ok", true); })).EnsureOk();
        Assert.Null(await commit1.WaitAsync(f.Timeout));
        Assert.Equal(MigrationState.Stop, dev1.GetState());
        second.Write.Dispose();
        Assert.Equal(0, TestPipeReadable(second)); // committed: StreamKit closed its copy
        Assert.Null(dev1.SetState(MigrationState.Running)); // the VMM runs it; only recorded

        // Device 2's commit fails: the receiver gets CommitFailed with the VMM's errno.
        var resume2 = dev2.SetState(MigrationState.Resuming)!;
        resume2.Write("x"u8);
        var commit2 = Blocking.Run(() => dev2.SetState(MigrationState.Stop));
        await f.Client.WaitForEventAsync("device-complete", f.Timeout);
        (await f.Request("commit-result", w => { w.WriteNumber("device", 2); w.WriteNumber("epoch", 0); w.WriteBoolean("ok", false); w.WriteNumber("errno", Errno.EINVAL); w.WriteString("message", "mtty: bad magic"); })).EnsureOk();
        var failed = await Assert.ThrowsAsync<DeviceException>(() => commit2.WaitAsync(f.Timeout));
        Assert.Equal((DeviceErrorKind.CommitFailed, Errno.EINVAL), (failed.Kind, failed.Errno));
        Assert.Contains("bad magic", failed.Message);
        resume2.Dispose();

        f.Session.Events.Publish(new FailedEvent(StreamErrorCode.DeviceRejected, "device 2 refused its state", 2));
        var failedEvent = await f.Client.WaitForEventAsync("failed", f.Timeout);
        Assert.Equal(("DeviceRejected", 502, 2), (failedEvent.GetProperty("reason").GetString(), failedEvent.GetProperty("reason_code").GetInt32(), failedEvent.GetProperty("device").GetInt32()));
    }

    [Fact]
    public async Task ResetBeforeTheFirstResumeKeepsTheAddDeviceFd()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Destination);
        using var pipe = TestPipe.Create();
        (await f.Request("add-device", Fields.Device(9), pipe.Write)).EnsureOk();
        (await f.Request("start")).EnsureOk();
        var device = f.Session.Devices[0];
        device.Reset(); // a receiver may reset before resuming; the VMM's fresh RESUMING fd stays valid
        using var channel = device.SetState(MigrationState.Resuming)!;
        channel.Write("ok"u8);
        Assert.Equal("ok", Encoding.ASCII.GetString(TestPipe.ReadExactly(pipe.Read.Fd, 2)));
        Assert.Equal(0u, device.Epoch);
        Assert.Throws<DeviceException>(() => device.SetState(MigrationState.PreCopy));
    }

    [Fact]
    public async Task ResetWhileWaitingForTheCommitEndsTheWait()
    {
        await using var f = await ControlFixture.StartAsync(ControlRole.Destination);
        using var pipe = TestPipe.Create();
        (await f.Request("add-device", Fields.Device(4), pipe.Write)).EnsureOk();
        (await f.Request("start")).EnsureOk();
        var device = f.Session.Devices[0];
        using var channel = device.SetState(MigrationState.Resuming)!;
        var committing = Blocking.Run(() => device.SetState(MigrationState.Stop));
        await f.Client.WaitForEventAsync("device-complete", f.Timeout);
        device.Reset(); // e.g. a late DISCARD
        var e = await Assert.ThrowsAsync<DeviceException>(() => committing.WaitAsync(f.Timeout));
        Assert.Equal(DeviceErrorKind.DeadSession, e.Kind);
        ControlAssert.Error(await f.Request("commit-result", w => { w.WriteNumber("device", 4); w.WriteNumber("epoch", 0); w.WriteBoolean("ok", true); }), ControlErrorCode.BadState);
    }

    /// <summary>What one read of the read end returns within a second: 0 means EOF (no writer left anywhere), -1 nothing yet.</summary>
    private static unsafe int TestPipeReadable(TestPipe pipe)
    {
        var poll = new StreamKit.Transport.Native.PollFd { Fd = pipe.Read.Fd, Events = StreamKit.Transport.Native.LibC.POLLIN };
        if (StreamKit.Transport.Native.LibC.Poll(&poll, 1, 1000) <= 0) return -1;
        byte b;
        return (int)StreamKit.Transport.Native.LibC.Read(pipe.Read.Fd, &b, 1);
    }
}
