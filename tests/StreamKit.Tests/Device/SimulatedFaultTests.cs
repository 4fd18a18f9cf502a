using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

/// <summary>Injected faults: resets, read/write/commit errors, slow I/O.</summary>
public class SimulatedFaultTests
{
    public static IEnumerable<object[]> ResetSpecs() =>
    [
        ["sim:profile=mtty,reset-at=10%"],                 // inside the PRE_COPY header
        ["sim:profile=mlx5,size=64KiB,reset-at=40%"],
        ["sim:profile=hisi,size=16KiB,reset-at-bytes=16"],
        ["sim:profile=bulk,size=256KiB,reset-at=40%,dirty-rate=8/MiB"],
    ];

    [Theory]
    [MemberData(nameof(ResetSpecs))]
    public void ResetDuringPrecopyKillsTheSessionKeepsTheStateAndANewPrecopyWorks(string spec)
    {
        using var src = SimulatedDevice.Create(spec);
        src.SimulateGuestActivity(2);
        ulong before = src.StateDigest;
        var ch = src.SetState(MigrationState.PreCopy)!;
        var buf = new byte[1000];
        DataReadResult r;
        long got = 0;
        while ((r = ch.Read(buf)).Status == DataReadStatus.Data) got += r.Count;
        Assert.Equal(DataReadStatus.DeadSession, r.Status);  // ENODEV
        Assert.True(got < src.Spec.EffectiveSizeBytes + 100);
        Assert.Equal(MigrationState.Running, src.GetState()); // the kernel moved it; we were not told
        Assert.Null(ch.GetPrecopyInfo());
        Assert.Equal(DataReadResult.Dead, ch.Read(buf));
        Assert.Equal(1, src.ResetCount);

        // Dirtying may have changed pages while pre-copy ran; the device's state was not lost or reset.
        if (!spec.Contains("dirty-rate")) Assert.Equal(before, src.StateDigest);

        // As with VfioDevice, the next SET reports the reset before taking any arc, then the device is in step again.
        int arcs = src.Arcs.Count;
        var dead = Assert.Throws<DeviceException>(() => src.SetState(MigrationState.PreCopy));
        Assert.Equal((DeviceErrorKind.DeadSession, MigrationState.Running), (dead.Kind, dead.State));
        Assert.Equal(arcs, src.Arcs.Count);

        // A new PRE_COPY hands out a new channel and the whole migration succeeds.
        using var dst = SimulatedDevice.Create(spec.Split(",reset")[0]);
        var saved = SimMigration.Save(src);
        SimMigration.Resume(dst, saved.Stream, new Random(9), 4096);
        Assert.Equal(saved.DigestAtStop, dst.StateDigest);
    }

    [Fact]
    public void ResetDuringStopCopy()
    {
        using var src = SimulatedDevice.Create("sim:profile=mtty,reset-at-bytes=50");
        ulong before = src.StateDigest;
        var ch = src.SetState(MigrationState.PreCopy)!;
        var buf = new byte[100];
        Assert.Equal(DataReadResult.Bytes(24), ch.Read(buf));
        Assert.Equal(DataReadResult.Temporary, ch.Read(buf));
        Assert.Null(src.SetState(MigrationState.StopCopy));
        Assert.Equal(DataReadResult.Bytes(26), ch.Read(buf));  // up to the fault point
        Assert.Equal(DataReadResult.Dead, ch.Read(buf));
        Assert.Equal(MigrationState.Running, src.GetState());
        Assert.Equal(before, src.StateDigest);
        // The VMM still believes STOP_COPY: asking for STOP reports the reset (DeadSession, no arc taken);
        // asking again walks RUNNING → RUNNING_P2P → STOP.
        int arcs = src.Arcs.Count;
        var dead = Assert.Throws<DeviceException>(() => src.SetState(MigrationState.Stop));
        Assert.Equal((DeviceErrorKind.DeadSession, MigrationState.Running), (dead.Kind, dead.State));
        Assert.Equal(arcs, src.Arcs.Count);
        Assert.Null(src.SetState(MigrationState.Stop));
        Assert.Equal(MigrationState.Stop, src.GetState());
    }

    [Fact]
    public void ResetAfterTimeFiresOnTheNextChannelCall()
    {
        using var src = SimulatedDevice.Create("sim:profile=bulk,size=64KiB,reset-after=30ms");
        var ch = src.SetState(MigrationState.PreCopy)!;
        Assert.NotNull(ch.GetPrecopyInfo());
        Thread.Sleep(60);
        Assert.Null(ch.GetPrecopyInfo());
        Assert.Equal(MigrationState.Running, src.GetState());
        Assert.Equal(DeviceErrorKind.DeadSession, Assert.Throws<DeviceException>(() => src.SetState(MigrationState.StopCopy)).Kind);
        // Fires once: the next session runs to completion.
        using var dst = SimulatedDevice.Create("sim:profile=bulk,size=64KiB");
        var saved = SimMigration.Save(src);
        SimMigration.Resume(dst, saved.Stream, new Random(1), 9999);
        Assert.Equal(saved.DigestAtStop, dst.StateDigest);
    }

    [Fact]
    public void InjectedResetIsReportedByTheNextSetStateBeforeAnyArc()
    {
        // QEMU would walk RUNNING → RUNNING_P2P → PRE_COPY_P2P here and get a new data_fd ("data_fd out of
        // sync"); like VfioDevice, the simulated device refuses with DeadSession before any arc.
        using var src = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB,reset-at-bytes=100");
        var old = src.SetState(MigrationState.PreCopy)!;
        var buf = new byte[1000];
        while (old.Read(buf).Status == DataReadStatus.Data) { }
        var e = Assert.Throws<DeviceException>(() => src.SetState(MigrationState.PreCopyP2P));
        Assert.Equal((DeviceErrorKind.DeadSession, MigrationState.Running), (e.Kind, e.State));
        Assert.Contains("reset behind our back", e.Message);
        Assert.Equal([(MigrationState.Running, MigrationState.PreCopy)], src.Arcs);
        Assert.Equal(DataReadResult.Dead, old.Read(buf));
        Assert.Null(old.GetPrecopyInfo());
        // Reported once: the caller now knows the real state, and a new session works.
        var fresh = src.SetState(MigrationState.PreCopyP2P);
        Assert.NotNull(fresh);
        Assert.Equal(DataReadStatus.Data, fresh.Read(buf).Status);
        Assert.Equal(
            [(MigrationState.Running, MigrationState.PreCopy), (MigrationState.Running, MigrationState.RunningP2P), (MigrationState.RunningP2P, MigrationState.PreCopyP2P)],
            src.Arcs);
    }

    [Fact]
    public void ReadErrorIsEioUntilTheSessionEnds()
    {
        using var src = SimulatedDevice.Create("sim:profile=bulk,size=64KiB,read-error-at=1000");
        var ch = src.SetState(MigrationState.PreCopy)!;
        var buf = new byte[4096];
        Assert.Equal(DataReadResult.Bytes(1000), ch.Read(buf)); // data up to the fault point
        var e = Assert.Throws<DeviceException>(() => ch.Read(buf));
        Assert.Equal((Errno.EIO, DeviceErrorKind.IoFailed, MigrationState.PreCopy), (e.Errno, e.Kind, e.State));
        Assert.Throws<DeviceException>(() => ch.Read(buf));
        Assert.Null(src.SetState(MigrationState.Running)); // abort: the source keeps running with its state
        using var dst = SimulatedDevice.Create("sim:profile=bulk,size=64KiB");
        var saved = SimMigration.Save(src);                 // fault used up: the retry succeeds
        SimMigration.Resume(dst, saved.Stream, new Random(2), 5000);
        Assert.Equal(saved.DigestAtStop, dst.StateDigest);
    }

    [Theory]
    [InlineData("EFAULT", Errno.EFAULT, DeviceErrorKind.Incompatible)]
    [InlineData("ENOMEM", Errno.ENOMEM, DeviceErrorKind.Incompatible)]
    [InlineData("EIO", Errno.EIO, DeviceErrorKind.IoFailed)]
    public void WriteErrorPoisonsTheSession(string name, int errno, DeviceErrorKind kind)
    {
        using var src = SimulatedDevice.Create("sim:profile=hisi,size=16KiB");
        var stream = SimMigration.Save(src).Stream;
        using var dst = SimulatedDevice.Create($"sim:profile=hisi,size=16KiB,write-error={name},write-error-at=50%");
        var ch = dst.SetState(MigrationState.Resuming)!;
        ch.Write(stream.AsSpan(0, 100));
        var e = Assert.Throws<DeviceException>(() => ch.Write(stream.AsSpan(100)));
        Assert.Equal((errno, kind, MigrationState.Resuming), (e.Errno, e.Kind, e.State));
        var again = Assert.Throws<DeviceException>(() => ch.Write(stream.AsSpan(100)));
        Assert.Equal((errno, kind), (again.Errno, again.Kind)); // the first failure, repeated
        int arcs = dst.Arcs.Count;
        var commit = Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Running));
        Assert.Equal((DeviceErrorKind.TransitionRefused, errno, MigrationState.Resuming), (commit.Kind, commit.Errno, commit.State));
        Assert.Equal(arcs, dst.Arcs.Count); // refused before any arc, as VfioDevice refuses it before any SET
        dst.Reset();
        SimMigration.Resume(dst, stream, new Random(3), 1000);
        Assert.Equal(src.StateDigest, dst.StateDigest);
    }

    [Fact]
    public void CommitErrorLeavesTheDeviceResuming()
    {
        using var src = SimulatedDevice.Create("sim:profile=mtty");
        var stream = SimMigration.Save(src).Stream;
        using var dst = SimulatedDevice.Create("sim:profile=mtty,commit-error=EIO,repeat=2");
        for (int i = 0; i < 2; i++)
        {
            using var ch = SimMigration.WriteAll(dst, stream, new Random(i), 10);
            var e = Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Running));
            Assert.Equal((Errno.EIO, DeviceErrorKind.CommitFailed, MigrationState.Resuming), (e.Errno, e.Kind, e.State));
            dst.Reset();
        }
        SimMigration.Resume(dst, stream, new Random(5), 10);
        Assert.Equal(src.StateDigest, dst.StateDigest);
    }

    [Fact]
    public void SlowReadsStillDeliverEverything()
    {
        using var src = SimulatedDevice.Create("sim:profile=mtty,slow-read=2ms");
        using var dst = SimulatedDevice.Create("sim:profile=mtty,slow-write=1ms");
        var saved = SimMigration.Save(src, readSize: 32);
        SimMigration.Resume(dst, saved.Stream, new Random(6), 40);
        Assert.Equal(saved.DigestAtStop, dst.StateDigest);
    }
}
