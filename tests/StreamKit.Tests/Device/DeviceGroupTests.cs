using StreamKit.Device;
using Xunit;
using static StreamKit.Device.MigrationState;

namespace StreamKit.Tests.Device;

public class DeviceGroupTests
{
    /// <summary>Records every SET across devices in one global order (a test probe around real simulated devices).</summary>
    private sealed class Recorded(SimulatedDevice inner, List<(string Device, MigrationState From, MigrationState To)> log) : IMigrationDevice
    {
        public string Name => inner.Name;
        public string DriverHint => inner.DriverHint;
        public MigrationFeatures Features => inner.Features;
        public MigrationState GetState() => inner.GetState();
        public IMigrationDataChannel? SetState(MigrationState target)
        {
            var from = inner.GetState();
            var ch = inner.SetState(target);
            lock (log) log.Add((Name, from, target));
            return ch;
        }
        public ulong? GetStopCopySizeEstimate() => inner.GetStopCopySizeEstimate();
        public void Reset() => inner.Reset();
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void EveryDeviceIsQuiescedBeforeAnyIsStopped()
    {
        var log = new List<(string Device, MigrationState From, MigrationState To)>();
        using var a = SimulatedDevice.Create("sim:profile=mtty,name=a");
        using var b = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB,name=b");
        using var c = SimulatedDevice.Create("sim:profile=bulk,size=64KiB,name=c,precopy=false");
        var devices = new IMigrationDevice[] { new Recorded(a, log), new Recorded(b, log), new Recorded(c, log) };
        var preA = devices[0].SetState(PreCopy)!;
        var preB = devices[1].SetState(PreCopy)!;
        log.Clear();

        var group = new DeviceGroup(devices);
        var channels = group.StopAll();

        Assert.Equal(
            [("a", PreCopy, PreCopyP2P), ("b", PreCopy, PreCopyP2P), ("c", Running, RunningP2P),
             ("a", PreCopyP2P, StopCopy), ("b", PreCopyP2P, StopCopy), ("c", RunningP2P, StopCopy)],
            log);
        Assert.Null(channels[0]);      // pre-copy channels continue
        Assert.Null(channels[1]);
        Assert.NotNull(channels[2]);   // the stop-copy-only device got its session now
        Assert.True(channels[2]!.IsSaving);
        Assert.All(new[] { a, b, c }, d => Assert.Equal(StopCopy, d.GetState()));
        Assert.Equal(DataReadStatus.Data, preA.Read(new byte[100]).Status);
        Assert.Equal(DataReadStatus.Data, preB.Read(new byte[100]).Status);
    }

    [Fact]
    public void RefusesDevicesWithoutP2PUnlessAllowed()
    {
        using var a = SimulatedDevice.Create("sim:profile=mtty,name=a");
        using var b = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB,name=nop2p,p2p=false");
        var e = Assert.Throws<DeviceException>(() => new DeviceGroup([a, b]));
        Assert.Equal(DeviceErrorKind.P2PRequired, e.Kind);
        Assert.Contains("nop2p", e.Message);

        _ = new DeviceGroup([b]); // a single device needs no P2P
        var group = new DeviceGroup([a, b], allowWithoutP2P: true);
        group.Quiesce();
        Assert.Equal(RunningP2P, a.GetState());
        Assert.Equal(Running, b.GetState()); // no P2P state to go to
        var channels = group.StopAll();
        Assert.All(channels, ch => Assert.NotNull(ch));
        Assert.Equal(StopCopy, b.GetState());
    }

    [Fact]
    public void FailedQuiesceRestoresTheDevicesAlreadyQuiesced()
    {
        var log = new List<(string Device, MigrationState From, MigrationState To)>();
        using var a = SimulatedDevice.Create("sim:profile=mtty,name=a");
        using var b = SimulatedDevice.Create("sim:profile=bulk,size=64KiB,name=b,set-error=running-p2p:EBUSY");
        var chA = a.SetState(PreCopy)!;
        var group = new DeviceGroup([new Recorded(a, log), new Recorded(b, log)]);
        var e = Assert.Throws<DeviceException>(() => group.StopAll());
        Assert.Equal((DeviceErrorKind.TransitionFailed, Errno.EBUSY, Running), (e.Kind, e.Errno, e.State));
        Assert.Equal([("a", PreCopy, PreCopyP2P), ("a", PreCopyP2P, PreCopy)], log); // b's SET threw; nothing was stopped
        Assert.Equal(PreCopy, a.GetState());   // back where it was, session intact
        Assert.Equal(Running, b.GetState());
        Assert.Equal(DataReadResult.Bytes(24), chA.Read(new byte[24]));
        // The fault hit once: a retry goes through.
        var channels = group.StopAll();
        Assert.Null(channels[0]);
        Assert.NotNull(channels[1]);
    }

    [Fact]
    public void AsyncResetBeforeQuiesceIsSeenThroughTheState()
    {
        using var a = SimulatedDevice.Create("sim:profile=mtty,name=a");
        using var b = SimulatedDevice.Create("sim:profile=bulk,size=64KiB,name=b");
        a.SetState(PreCopy);
        var lost = b.SetState(PreCopy)!;
        b.Reset(); // b is RUNNING now; the VMM was not told
        var channels = new DeviceGroup([a, b]).StopAll();
        Assert.Null(channels[0]);
        Assert.NotNull(channels[1]); // a new session: the caller must restart b's stream
        Assert.Equal(DataReadResult.Dead, lost.Read(new byte[8]));
    }

    [Fact]
    public void ReturnToRunningAbortsResumingByReset()
    {
        using var c = SimulatedDevice.Create("sim:profile=mtty,name=c");
        using var d = SimulatedDevice.Create("sim:profile=mtty,name=d");
        var chC = c.SetState(PreCopy)!;
        d.SetState(Resuming);
        var group = new DeviceGroup([c, d]);
        var stop = Assert.Throws<DeviceException>(() => group.StopAll()); // d: RESUMING → … commits nothing
        Assert.Equal(DeviceErrorKind.CommitFailed, stop.Kind);
        Assert.Empty(group.ReturnToRunning()); // RESUMING is aborted by reset, not by a commit attempt
        Assert.Equal(Running, c.GetState());
        Assert.Equal(Running, d.GetState());
        Assert.Equal(DataReadResult.Dead, chC.Read(new byte[8]));
    }
}
