using StreamKit.Device;
using Xunit;
using static StreamKit.Device.MigrationState;

namespace StreamKit.Tests.Device;

/// <summary>The simulated device walks the kernel's paths and opens/disables sessions exactly like the kernel.</summary>
public class SimulatedStateMachineTests
{
    public static IEnumerable<object[]> FeatureSpecs() =>
    [
        ["sim:profile=bulk,size=16KiB,p2p=false,precopy=false"],
        ["sim:profile=bulk,size=16KiB,precopy=false"],
        ["sim:profile=bulk,size=16KiB,p2p=false"],
        ["sim:profile=bulk,size=16KiB"],
    ];

    private static readonly MigrationState[] Settable = [Stop, Running, StopCopy, Resuming, RunningP2P, PreCopy, PreCopyP2P];

    [Theory]
    [MemberData(nameof(FeatureSpecs))]
    public void WalksTheKernelPathAndOpensSessionsOnlyOnTheLastArc(string spec)
    {
        foreach (var from in Settable)
            foreach (var to in Settable)
            {
                using var dev = SimulatedDevice.Create(spec);
                var f = dev.Features;
                if (!MigrationPaths.IsSupported(from, f) || !MigrationPaths.IsSupported(to, f)) continue;
                dev.SetState(from); // reach the start (RESUMING → X would need a valid image: skip those below)
                Assert.Equal(from, dev.GetState());
                int arcsBefore = dev.Arcs.Count;
                if (from == Resuming && to != Resuming)
                {
                    // Leaving RESUMING commits: with nothing written that is EINVAL and the device stays put.
                    Assert.Equal(Errno.EINVAL, Assert.Throws<DeviceException>(() => dev.SetState(to)).Errno);
                    Assert.Equal(Resuming, dev.GetState());
                    continue;
                }
                if (MigrationPaths.IsForbidden(from, to))
                {
                    var e = Assert.Throws<DeviceException>(() => dev.SetState(to));
                    Assert.Equal((DeviceErrorKind.TransitionRefused, from), (e.Kind, e.State));
                    Assert.Equal(from, dev.GetState());
                    continue;
                }
                var expected = MigrationPaths.Path(from, to, f);
                var channel = dev.SetState(to);
                Assert.Equal(to, dev.GetState());
                var walked = dev.Arcs.Skip(arcsBefore).Select(a => a.To).ToArray();
                Assert.Equal(expected, walked);
                var lastFrom = expected.Count > 1 ? expected[^2] : from;
                bool opens = expected.Count > 0 && MigrationPaths.OpensSession(lastFrom, to);
                Assert.Equal(opens, channel is not null);
                if (channel is not null) Assert.Equal(to != Resuming, channel.IsSaving);
            }
    }

    [Fact]
    public void SavingSessionSurvivesTheSavingGroupAndDiesOutsideIt()
    {
        using var dev = SimulatedDevice.Create("sim:profile=mtty");
        var buf = new byte[200];
        var ch = dev.SetState(PreCopy)!;
        Assert.Null(dev.SetState(PreCopyP2P));
        Assert.Null(dev.SetState(PreCopy));
        Assert.Null(dev.SetState(PreCopyP2P));
        Assert.Equal(DataReadResult.Bytes(24), ch.Read(buf));
        Assert.Null(dev.SetState(StopCopy));
        Assert.Equal(DataReadResult.Bytes(72), ch.Read(buf));
        Assert.Null(dev.SetState(Stop));
        Assert.Equal(DataReadResult.Dead, ch.Read(buf));

        // Cancel in pre-copy: PRE_COPY → RUNNING disables the fd.
        var again = dev.SetState(PreCopy)!;
        Assert.NotSame(ch, again);
        Assert.Null(dev.SetState(Running));
        Assert.Equal(DataReadResult.Dead, again.Read(buf));
        Assert.Null(again.GetPrecopyInfo());

        // Without pre-copy: RUNNING → STOP_COPY walks RUNNING_P2P, STOP and opens the session at the end.
        var direct = dev.SetState(StopCopy)!;
        Assert.Equal(DataReadResult.Bytes(96), direct.Read(buf));
        Assert.Equal(DataReadResult.Final, direct.Read(buf));
        dev.Reset();
        Assert.Equal(DataReadResult.Dead, direct.Read(buf));
    }

    [Fact]
    public void WrongDirectionAndDisposedChannels()
    {
        using var dev = SimulatedDevice.Create("sim:profile=mtty");
        var saving = dev.SetState(PreCopy)!;
        var e = Assert.Throws<DeviceException>(() => saving.Write([1]));
        Assert.Equal(Errno.EBADF, e.Errno);
        dev.SetState(Running);
        var resuming = dev.SetState(Resuming)!;
        Assert.Equal(Errno.EBADF, Assert.Throws<DeviceException>(() => resuming.Read(new byte[4])).Errno);
        Assert.Equal(PrecopyInfo.Unavailable, resuming.GetPrecopyInfo());
        resuming.Dispose();
        Assert.Equal(Resuming, dev.GetState()); // closing the fd does not change the state
        Assert.Throws<ObjectDisposedException>(() => resuming.Write([1]));
        dev.Reset();
        dev.Dispose();
        Assert.Throws<ObjectDisposedException>(() => dev.GetState());
    }

    [Fact]
    public void GuestActivityOnlyWhileRunning()
    {
        using var dev = SimulatedDevice.Create("sim:profile=bulk,size=16KiB");
        ulong d0 = dev.StateDigest;
        dev.SimulateGuestActivity(1);
        Assert.NotEqual(d0, dev.StateDigest);
        dev.SetState(Stop);
        Assert.Throws<InvalidOperationException>(() => dev.SimulateGuestActivity(1));
    }

    [Fact]
    public void SpecDrivesNameFeaturesAndInitialState()
    {
        using var a = SimulatedDevice.Create("sim:profile=hisi,seed=4");
        Assert.Equal("sim-hisi-4", a.Name);
        Assert.Equal("hisi_acc_vfio_pci", a.DriverHint);
        Assert.Equal(16, a.UnitCount); // 64 KiB default
        using var b = SimulatedDevice.Create("sim:profile=hisi,seed=4,state=2,name=dev0,p2p=no");
        Assert.Equal("dev0", b.Name);
        Assert.Equal(MigrationFeatures.StopCopy | MigrationFeatures.PreCopy, b.Features);
        Assert.NotEqual(a.StateDigest, b.StateDigest);
        using var blank = SimulatedDevice.Create("sim:profile=hisi,seed=4,state=blank");
        using var blank2 = SimulatedDevice.Create("sim:profile=hisi,seed=4,state=blank");
        Assert.Equal(blank.StateDigest, blank2.StateDigest);
        Assert.NotEqual(a.StateDigest, blank.StateDigest);
        Assert.Equal("mlx5_vfio_pci", SimulatedDevice.Create("sim:profile=mlx5").DriverHint);
    }
}
