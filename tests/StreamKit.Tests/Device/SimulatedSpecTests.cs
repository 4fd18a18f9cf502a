using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

public class SimulatedSpecTests
{
    [Fact]
    public void ParsesTheCliExample()
    {
        var s = SimulatedDeviceSpec.Parse("sim:profile=mlx5,size=2GiB,seed=1,reset-at=40%");
        Assert.Equal(SimulatedProfile.Mlx5, s.Profile);
        Assert.Equal(2L << 30, s.SizeBytes);
        Assert.Equal(1UL, s.Seed);
        Assert.Equal(FaultPoint.AtFraction(0.4), s.Faults.ResetAt);
        Assert.Equal(400, s.Faults.ResetAt!.Value.Resolve(1000));
    }

    [Fact]
    public void ParsesEveryKey()
    {
        var s = SimulatedDeviceSpec.Parse(
            " profile = bulk , size=512MiB,seed=18446744073709551615,state=blank,zero=50%,dirty-rate=2.5/MiB,name=vf0," +
            "p2p=off,precopy=yes,reset-at-bytes=1048576,reset-after=250ms,read-error-at=1G,read-errno=ENODEV," +
            "write-error=EFAULT,write-error-at=10%,commit-error=22,slow-read=5ms,slow-write=100us,repeat=3");
        Assert.Equal(SimulatedProfile.Bulk, s.Profile);
        Assert.Equal(512L << 20, s.SizeBytes);
        Assert.Equal(ulong.MaxValue, s.Seed);
        Assert.Equal(0u, s.StateGeneration);
        Assert.Equal(0.5, s.ZeroFraction);
        Assert.Equal(2.5, s.DirtyUnitsPerMiB);
        Assert.Equal("vf0", s.Name);
        Assert.False(s.P2P);
        Assert.True(s.PreCopy);
        var f = s.Faults;
        Assert.Equal(FaultPoint.AtBytes(1 << 20), f.ResetAt);
        Assert.Equal(TimeSpan.FromMilliseconds(250), f.ResetAfter);
        Assert.Equal(FaultPoint.AtBytes(1L << 30), f.ReadErrorAt);
        Assert.Equal(Errno.ENODEV, f.ReadErrno);
        Assert.Equal(Errno.EFAULT, f.WriteErrno);
        Assert.Equal(FaultPoint.AtFraction(0.1), f.WriteErrorAt);
        Assert.Equal(Errno.EINVAL, f.CommitErrno);
        Assert.Equal(TimeSpan.FromMilliseconds(5), f.SlowRead);
        Assert.Equal(TimeSpan.FromTicks(1000), f.SlowWrite);
        Assert.Equal(3, f.Repeat);
        Assert.False(f.IsEmpty);
        Assert.True(SimulatedFaults.None.IsEmpty);
    }

    [Theory]
    [InlineData("sim:profile=mtty")]
    [InlineData("sim:profile=mtty,ports=1,seed=9,name=a")]
    [InlineData("sim:profile=mlx5,size=1536MiB,zero=0.25,max-record=64KiB,chunk=1MiB,reset-at=12.5%")]
    [InlineData("sim:profile=hisi,size=12KiB,state=3,model=7,write-error=ENOMEM,write-error-at=4KiB,set-error=running-p2p:EBUSY,slow-write=250us")]
    [InlineData("sim:profile=bulk,size=3GiB,dirty-rate=100/s,p2p=false,precopy=false,reset-after=2ms,read-error-at=12345,read-errno=EINVAL,commit-error=EIO,repeat=2")]
    [InlineData("sim:profile=bulk,state=blank,reset-at=5000,set-error=stop-copy,slow-read=1ms")]
    [InlineData("sim:profile=bulk,size=64MiB,zero=0.5,zero-run=16")]
    public void ToStringRoundTrips(string text)
    {
        var spec = SimulatedDeviceSpec.Parse(text);
        Assert.Equal(text, spec.ToString());
        Assert.Equal(spec, SimulatedDeviceSpec.Parse(spec.ToString()));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("sim:", null)]
    [InlineData("size=2GiB", "profile")]
    [InlineData("profile=foo", "profile")]
    [InlineData("profile=bulk,size=1000", "size")]
    [InlineData("profile=bulk,size=128GiB", "size")]
    [InlineData("profile=bulk,size=2XB", "size")]
    [InlineData("profile=bulk,size=-4KiB", "size")]
    [InlineData("profile=mtty,size=1MiB", "size")]
    [InlineData("profile=mtty,ports=3", "ports")]
    [InlineData("profile=bulk,ports=1", "ports")]
    [InlineData("profile=bulk,seed=-1", "seed")]
    [InlineData("profile=bulk,seed=1,seed=2", "seed")]
    [InlineData("profile=bulk,seed", "seed")]
    [InlineData("profile=bulk,seed=", "seed")]
    [InlineData("profile=bulk,zero=1.5", "zero")]
    [InlineData("profile=bulk,zero-run=0", "zero-run")]
    [InlineData("profile=bulk,zero-run=65537", "zero-run")]
    [InlineData("profile=bulk,zero-run=1.5", "zero-run")]
    [InlineData("profile=bulk,dirty-rate=5", "dirty-rate")]
    [InlineData("profile=bulk,dirty-rate=5/h", "dirty-rate")]
    [InlineData("profile=bulk,reset-at=140%", "reset-at")]
    [InlineData("profile=bulk,reset-at=1,reset-at-bytes=2", "reset-at-bytes")]
    [InlineData("profile=bulk,reset-after=5", "reset-after")]
    [InlineData("profile=bulk,write-error=EWHAT", "write-error")]
    [InlineData("profile=bulk,write-error-at=10", "write-error-at")]
    [InlineData("profile=bulk,slow-read=2h", "slow-read")]
    [InlineData("profile=bulk,repeat=0", "repeat")]
    [InlineData("profile=bulk,p2p=maybe", "p2p")]
    [InlineData("profile=bulk,chunk=1KiB", "chunk")]
    [InlineData("profile=bulk,frobnicate=1", "frobnicate")]
    [InlineData("profile=bulk,set-error=error", "set-error")]
    [InlineData("profile=bulk,set-error=stop:EWHAT", "set-error")]
    [InlineData("profile=bulk,,seed=1", null)]
    public void BadSpecsAreTypedErrorsNamingTheKey(string text, string? key)
    {
        var e = Assert.Throws<DeviceSpecException>(() => SimulatedDeviceSpec.Parse(text));
        Assert.Equal(key, e.Key);
        Assert.Equal(text, e.Spec);
        Assert.Contains(text, e.Message);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Fact]
    public void DefaultsPerProfile()
    {
        Assert.Equal(96, SimulatedDeviceSpec.Parse("profile=mtty").EffectiveSizeBytes);
        Assert.Equal(60, SimulatedDeviceSpec.Parse("profile=mtty,ports=1").EffectiveSizeBytes);
        Assert.Equal(1L << 20, SimulatedDeviceSpec.Parse("profile=mlx5").EffectiveSizeBytes);
        Assert.Equal(64L << 10, SimulatedDeviceSpec.Parse("profile=hisi").EffectiveSizeBytes);
        Assert.Equal(256L << 20, SimulatedDeviceSpec.Parse("profile=BULK").EffectiveSizeBytes);
    }
}
