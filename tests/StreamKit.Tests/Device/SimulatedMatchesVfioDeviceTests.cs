using StreamKit.Device;
using Xunit;
using static StreamKit.Device.MigrationState;

namespace StreamKit.Tests.Device;

/// <summary>
/// The simulated device behaves, through <see cref="IMigrationDevice"/>, as <c>VfioDevice</c> did against
/// the real mtty driver in the VFIO lab (checks incompatible_write_into_C, incompatible_commit_refused,
/// reset_in_precopy, async_reset_detected, async_reset_in_resuming), so transport code sees one behaviour.
/// </summary>
public class SimulatedMatchesVfioDeviceTests
{
    private static byte[] MttyImage(int ports)
    {
        using var src = SimulatedDevice.Create($"sim:profile=mtty,ports={ports}");
        src.SimulateGuestActivity(2);
        return SimMigration.Save(src).Stream;
    }

    private static long DriverBytes(IMigrationDataChannel channel) => ((SimulatedDataChannel)channel).Load!.Position;

    [Fact]
    public void AfterAFailedWriteFurtherWritesAndTheCommitAreRefusedWithoutReachingTheDriver()
    {
        byte[] twoPorts = MttyImage(2);
        using var c = SimulatedDevice.Create("sim:profile=mtty,ports=1"); // mtty-2 state into mtty-1
        ulong before = c.StateDigest;
        var channel = c.SetState(Resuming)!;
        var e = Assert.Throws<DeviceException>(() => channel.Write(twoPorts));
        Assert.Equal(DeviceErrorKind.Incompatible, e.Kind);
        Assert.True(e.Errno is Errno.EFAULT or Errno.ENOMEM, $"errno {e.Errno}");
        Assert.Equal(Resuming, e.State);
        long accepted = DriverBytes(channel);

        var again = Assert.Throws<DeviceException>(() => channel.Write(twoPorts.AsSpan(0, 1)));
        Assert.Equal((e.Kind, e.Errno), (again.Kind, again.Errno));
        Assert.Contains("earlier write", again.Message);
        Assert.Equal(accepted, DriverBytes(channel)); // nothing reached the driver

        int arcs = c.Arcs.Count;
        foreach (var target in new[] { Running, Stop })
        {
            var commit = Assert.Throws<DeviceException>(() => c.SetState(target));
            Assert.Equal((DeviceErrorKind.TransitionRefused, e.Errno, Resuming), (commit.Kind, commit.Errno, commit.State));
            Assert.Contains("reset the device", commit.Message);
        }
        Assert.Equal(arcs, c.Arcs.Count); // no arc taken: the commit never reached the driver
        Assert.Equal(Resuming, c.GetState());

        c.Reset(); // only a reset recovers, and it discards what was written
        Assert.Equal(Running, c.GetState());
        Assert.Equal(before, c.StateDigest);
        Assert.Throws<DeviceException>(() => channel.Write(twoPorts.AsSpan(0, 1))); // still poisoned, and dead
        SimMigration.Resume(c, MttyImage(1), new Random(1), 7);
    }

    [Fact]
    public void HiddenResetInPrecopyIsDeadSessionOnTheNextSetAndTheDeviceIsNeverStopped()
    {
        using var a = SimulatedDevice.Create("sim:profile=mtty");
        var channel = a.SetState(PreCopy)!;
        Assert.Equal(new PrecopyInfo(24, 0), channel.GetPrecopyInfo());
        a.SimulateHiddenReset(); // a guest FLR: the object's user is not told

        Assert.Null(channel.GetPrecopyInfo()); // mtty: EINVAL, kernel state RUNNING → dead session
        int arcs = a.Arcs.Count;
        var e = Assert.Throws<DeviceException>(() => a.SetState(StopCopy));
        Assert.Equal((DeviceErrorKind.DeadSession, Running), (e.Kind, e.State));
        Assert.Contains("reset behind our back", e.Message);
        Assert.Equal(arcs, a.Arcs.Count);      // no arc: the source VM was never stopped
        Assert.Equal(Running, a.GetState());
        Assert.Equal(DataReadResult.Dead, channel.Read(new byte[8]));

        using var fresh = a.SetState(PreCopy)!; // in step again: a new pre-copy works at once
        Assert.Equal(new PrecopyInfo(24, 0), fresh.GetPrecopyInfo());
        Assert.Null(a.SetState(Running));       // cancel
        Assert.Equal(DataReadResult.Dead, fresh.Read(new byte[8]));
    }

    [Theory]
    [InlineData(StopCopy, Stop)]       // reset during STOP_COPY, then the switchover's STOP
    [InlineData(PreCopy, PreCopyP2P)]  // reset during pre-copy, then quiescing
    [InlineData(Resuming, Stop)]       // reset of a destination, then its commit
    [InlineData(Resuming, Running)]    // …even when the reset left it where the commit would have
    public void HiddenResetIsReportedOnceByTheNextSetState(MigrationState phase, MigrationState next)
    {
        using var dev = SimulatedDevice.Create("sim:profile=mtty");
        using var channel = dev.SetState(phase)!;
        dev.SimulateHiddenReset();
        int arcs = dev.Arcs.Count;
        var e = Assert.Throws<DeviceException>(() => dev.SetState(next));
        Assert.Equal((DeviceErrorKind.DeadSession, Running), (e.Kind, e.State));
        Assert.Equal(arcs, dev.Arcs.Count);
        if (phase == Resuming)
        {
            Assert.Contains("nothing written to it was committed", e.Message);
            var w = Assert.Throws<DeviceException>(() => channel.Write([1]));
            Assert.Equal((DeviceErrorKind.DeadSession, Errno.ENODEV), (w.Kind, w.Errno));
        }
        else
        {
            Assert.Equal(DataReadResult.Dead, channel.Read(new byte[8]));
        }
        dev.SetState(next)?.Dispose(); // reported once: the device is in step again
        Assert.Equal(next, dev.GetState());
    }

    [Fact]
    public void ResetBehindOurBackIntoTheTargetStateIsNotAnErrorOutsideResuming()
    {
        // VfioDevice: a cancel (PRE_COPY → RUNNING) of a device that was reset to RUNNING has nothing to report.
        using var dev = SimulatedDevice.Create("sim:profile=mtty");
        var channel = dev.SetState(PreCopy)!;
        dev.SimulateHiddenReset();
        Assert.Null(dev.SetState(Running));
        Assert.Equal(DataReadResult.Dead, channel.Read(new byte[8]));
        Assert.NotNull(dev.SetState(PreCopy));
    }

    public static TheoryData<string, MigrationState> ResetKinds() => new()
    {
        { "explicit", PreCopy }, { "explicit", StopCopy },
        { "hidden", PreCopy }, { "hidden", StopCopy },
        { "injected", PreCopy }, { "injected", StopCopy },
    };

    [Theory]
    [MemberData(nameof(ResetKinds))]
    public void PrecopyInfoOnTheOldChannelAfterAResetIsNull(string reset, MigrationState phase)
    {
        // Real mtty answers EINVAL here and VfioDevice's channel maps it to null (dead session).
        string spec = reset != "injected" ? "sim:profile=mtty"
            : phase == PreCopy ? "sim:profile=mtty,reset-at-bytes=10" : "sim:profile=mtty,reset-at-bytes=30";
        using var dev = SimulatedDevice.Create(spec);
        var old = dev.SetState(PreCopy)!;
        var buf = new byte[100];
        Assert.Equal(DataReadStatus.Data, old.Read(buf).Status);
        if (phase == StopCopy)
        {
            Assert.Null(dev.SetState(StopCopy));
            var live = Assert.Throws<DeviceException>(() => old.GetPrecopyInfo()); // live session, not PRE_COPY: an error, not null
            Assert.Equal((DeviceErrorKind.IoFailed, Errno.EINVAL), (live.Kind, live.Errno));
        }
        switch (reset)
        {
            case "explicit": dev.Reset(); break;
            case "hidden": dev.SimulateHiddenReset(); break;
            default:
                DataReadResult r;
                while ((r = old.Read(buf)).Status == DataReadStatus.Data) { }
                Assert.Equal(DataReadStatus.DeadSession, r.Status); // the injected reset fired
                break;
        }
        Assert.Equal(Running, dev.GetState());
        Assert.Null(old.GetPrecopyInfo());
        Assert.Null(old.GetPrecopyInfo()); // and stays so
        Assert.Equal(DataReadResult.Dead, old.Read(buf));
    }
}
