using System.Buffers.Binary;
using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

/// <summary>The driver quirks each profile reproduces (reference section 3, lab measurements).</summary>
public class SimulatedProfileTests
{
    // ---------- mtty ----------

    [Fact]
    public void MttyPrecopyIsTheHeaderThenZeroReadsThenPortsInStopCopy()
    {
        using var dev = SimulatedDevice.Create("sim:profile=mtty,ports=2");
        Assert.Equal(96UL, dev.GetStopCopySizeEstimate());
        Assert.Equal("mtty", dev.DriverHint);
        Assert.Equal(MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy, dev.Features);
        var ch = dev.SetState(MigrationState.PreCopy)!;
        Assert.Equal(new PrecopyInfo(24, 0), ch.GetPrecopyInfo());
        var buf = new byte[200];
        Assert.Equal(DataReadResult.Bytes(10), ch.Read(buf.AsSpan(0, 10)));
        Assert.Equal(new PrecopyInfo(14, 0), ch.GetPrecopyInfo());
        Assert.Equal(DataReadResult.Bytes(14), ch.Read(buf.AsSpan(10)));
        Assert.Equal(0x7e9d09898c3e2c4eUL, BinaryPrimitives.ReadUInt64LittleEndian(buf));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(12)));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(16)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(20)));
        Assert.Equal(new PrecopyInfo(0, 0), ch.GetPrecopyInfo());
        Assert.Equal(DataReadResult.Temporary, ch.Read(buf)); // mtty: 0, not ENOMSG
        Assert.Equal(96UL, dev.GetStopCopySizeEstimate());   // full image in every state
        Assert.Null(dev.SetState(MigrationState.PreCopyP2P));
        Assert.Null(dev.SetState(MigrationState.StopCopy));  // same fd continues
        Assert.Equal(DataReadResult.Bytes(72), ch.Read(buf));
        Assert.Equal(DataReadResult.Final, ch.Read(buf));
        var e = Assert.Throws<DeviceException>(() => ch.GetPrecopyInfo()); // not in PRE_COPY
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    private static byte[] MttyStream(string spec)
    {
        using var src = SimulatedDevice.Create(spec);
        src.SimulateGuestActivity(3);
        return SimMigration.Save(src).Stream;
    }

    [Fact]
    public void MttyBadHeaderFailsEfaultOnTheWriteCompletingIt()
    {
        var stream = MttyStream("sim:profile=mtty");
        foreach (int at in new[] { 0, 7, 8, 12, 16, 20, 23 })
        {
            var bad = (byte[])stream.Clone();
            bad[at] ^= 0x01;
            using var dst = SimulatedDevice.Create("sim:profile=mtty");
            ulong before = dst.StateDigest;
            var ch = dst.SetState(MigrationState.Resuming)!;
            ch.Write(bad.AsSpan(0, 20));                          // header not complete yet: accepted
            var e = Assert.Throws<DeviceException>(() => ch.Write(bad.AsSpan(20, 10)));
            Assert.Equal(Errno.EFAULT, e.Errno);
            Assert.Equal(DeviceErrorKind.Incompatible, e.Kind);
            var again = Assert.Throws<DeviceException>(() => ch.Write(bad.AsSpan(30))); // poisoned: the first failure again
            Assert.Equal((Errno.EFAULT, DeviceErrorKind.Incompatible), (again.Errno, again.Kind));
            var commit = Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Running));
            Assert.Equal((DeviceErrorKind.TransitionRefused, Errno.EFAULT), (commit.Kind, commit.Errno));
            Assert.Equal(MigrationState.Resuming, dst.GetState());
            dst.Reset();
            Assert.Equal(MigrationState.Running, dst.GetState());
            Assert.Equal(before, dst.StateDigest); // reset discarded the resume, kept the old state
        }
    }

    [Fact]
    public void MttyTwoPortsIntoOnePortIsRefused()
    {
        var stream = MttyStream("sim:profile=mtty,ports=2");
        using var one = SimulatedDevice.Create("sim:profile=mtty,ports=1");
        // Header first: nr_ports mismatch ⇒ EFAULT.
        var ch = one.SetState(MigrationState.Resuming)!;
        Assert.Equal(Errno.EFAULT, Assert.Throws<DeviceException>(() => ch.Write(stream.AsSpan(0, 24))).Errno);
        one.Reset();
        // One big write: past the 60-byte image ⇒ ENOMEM (what the lab measured).
        ch = one.SetState(MigrationState.Resuming)!;
        Assert.Equal(Errno.ENOMEM, Assert.Throws<DeviceException>(() => ch.Write(stream)).Errno);
        one.Reset();
    }

    [Fact]
    public void MttyTooManyBytesIsEnomem()
    {
        var stream = MttyStream("sim:profile=mtty");
        using var dst = SimulatedDevice.Create("sim:profile=mtty");
        var ch = dst.SetState(MigrationState.Resuming)!;
        ch.Write(stream);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<DeviceException>(() => ch.Write([0])).Errno);
    }

    [Fact]
    public void TruncatedStreamFailsCommitAndStaysResumingUntilReset()
    {
        foreach (var spec in new[] { "sim:profile=mtty", "sim:profile=mlx5,size=64KiB", "sim:profile=hisi,size=16KiB", "sim:profile=bulk,size=64KiB" })
        {
            using var src = SimulatedDevice.Create(spec);
            src.SimulateGuestActivity(4);
            var stream = SimMigration.Save(src).Stream;
            foreach (int cut in new[] { 1, stream.Length / 2, stream.Length - 1 })
            {
                using var dst = SimulatedDevice.Create(spec);
                ulong before = dst.StateDigest;
                using var ch = SimMigration.WriteAll(dst, stream.AsSpan(0, cut), new Random(cut), 1000);
                var e = Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Stop));
                Assert.Equal((DeviceErrorKind.CommitFailed, Errno.EINVAL, MigrationState.Resuming), (e.Kind, e.Errno, e.State));
                Assert.Equal(MigrationState.Resuming, dst.GetState());
                Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Running)); // →RUNNING fails too
                Assert.Equal(MigrationState.Resuming, dst.GetState());
                dst.Reset();
                Assert.Equal(MigrationState.Running, dst.GetState());
                Assert.Equal(before, dst.StateDigest);
                // A new RESUMING session starts from scratch and succeeds with the whole stream.
                SimMigration.Resume(dst, stream, new Random(1), 5000);
                Assert.Equal(src.StateDigest, dst.StateDigest);
            }
        }
    }

    public static IEnumerable<object[]> CorruptionSpecs() =>
    [
        ["sim:profile=mtty"],
        ["sim:profile=mlx5,size=16KiB,zero=0.5"],
        ["sim:profile=hisi,size=16KiB"],
        ["sim:profile=bulk,size=16KiB,zero=0.5"],
        ["sim:profile=bulk,size=64KiB,zero=0.5,zero-run=4"],
    ];

    [Theory]
    [MemberData(nameof(CorruptionSpecs))]
    public void AnyCorruptedByteIsRefused(string spec)
    {
        using var src = SimulatedDevice.Create(spec);
        src.SimulateGuestActivity(2);
        var stream = SimMigration.Save(src).Stream;
        var rng = new Random(spec.Length);
        // mtty: every byte; the others: every header/record byte region plus random payload bytes.
        IEnumerable<int> positions = stream.Length <= 4096 ? Enumerable.Range(0, stream.Length)
            : Enumerable.Range(0, 200).Concat(Enumerable.Range(0, 200).Select(_ => rng.Next(stream.Length))).Concat(Enumerable.Range(stream.Length - 100, 100));
        using var dst = SimulatedDevice.Create(spec);
        ulong before = dst.StateDigest;
        foreach (int at in positions.Distinct())
        {
            var bad = (byte[])stream.Clone();
            bad[at] ^= (byte)(1 << rng.Next(8));
            int errno = SimMigration.TryResume(dst, bad, rng, rng.Next(1, 3000), out bool atWrite);
            Assert.True(errno != 0, $"{spec}: flipped byte {at} of {stream.Length} was accepted");
            Assert.Contains(errno, new[] { Errno.EINVAL, Errno.EFAULT, Errno.ENOMEM, Errno.EOPNOTSUPP });
            Assert.Equal(before, dst.StateDigest);
        }
        Assert.Equal(0, SimMigration.TryResume(dst, stream, rng, 777, out _)); // the intact stream still commits
        Assert.Equal(src.StateDigest, dst.StateDigest);
    }

    // ---------- mlx5 ----------

    [Fact]
    public void Mlx5StreamStartsWithStopCopySizeAndInitialBytesDecrease()
    {
        using var dev = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB");
        var ch = dev.SetState(MigrationState.PreCopy)!;
        var info = ch.GetPrecopyInfo()!.Value;
        Assert.True(info.InitialBytes > 64 * 1024);
        Assert.Equal(0UL, info.DirtyBytes);
        var buf = new byte[24];
        Assert.Equal(DataReadResult.Bytes(24), ch.Read(buf));
        Assert.Equal(8UL, BinaryPrimitives.ReadUInt64LittleEndian(buf));       // record_size
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(8)));  // OPTIONAL
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(12))); // STOP_COPY_SIZE
        Assert.Equal(info.InitialBytes - 24, ch.GetPrecopyInfo()!.Value.InitialBytes);
        SimMigration.DrainTo(ch, new byte[5000], Stream.Null, DataReadStatus.TemporaryEnd); // ENOMSG
        Assert.Equal(new PrecopyInfo(0, 0), ch.GetPrecopyInfo());
    }

    [Fact]
    public void Mlx5DirtyDataAppearsOnlyFromInsidePrecopyInfo()
    {
        using var dev = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB");
        var ch = dev.SetState(MigrationState.PreCopy)!;
        var buf = new byte[100_000];
        SimMigration.DrainTo(ch, buf, Stream.Null, DataReadStatus.TemporaryEnd);
        dev.SimulateGuestActivity(3);
        Assert.Equal(DataReadResult.Temporary, ch.Read(buf)); // dirty, but no new image without the ioctl
        Assert.Equal(DataReadResult.Temporary, ch.Read(buf));

        Assert.Null(dev.SetState(MigrationState.PreCopyP2P));
        var p2pInfo = ch.GetPrecopyInfo()!.Value;                // PRE_COPY_P2P: no new SAVE
        Assert.True(p2pInfo.DirtyBytes > 0);
        Assert.Equal(DataReadResult.Temporary, ch.Read(buf));
        Assert.Null(dev.SetState(MigrationState.PreCopy));

        var info = ch.GetPrecopyInfo()!.Value;                   // drained + dirty ⇒ the driver saves now
        Assert.Equal(0UL, info.InitialBytes);
        Assert.True(info.DirtyBytes >= 3 * 4096);
        var r = ch.Read(buf);
        Assert.Equal(DataReadStatus.Data, r.Status);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(12))); // FW_DATA
        SimMigration.DrainTo(ch, buf, Stream.Null, DataReadStatus.TemporaryEnd);
        Assert.Equal(new PrecopyInfo(0, 0), ch.GetPrecopyInfo());
    }

    private static byte[] Record(ulong size, uint flags, uint tag, int payload)
    {
        var r = new byte[16 + payload];
        BinaryPrimitives.WriteUInt64LittleEndian(r, size);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), tag);
        return r;
    }

    [Fact]
    public void Mlx5UnknownMandatoryTagIsEopnotsuppAndPoisonsTheSession()
    {
        using var dst = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB");
        var ch = dst.SetState(MigrationState.Resuming)!;
        var rec = Record(4, 0, 7, 4);
        ch.Write(rec.AsSpan(0, 5));
        var e = Assert.Throws<DeviceException>(() => ch.Write(rec.AsSpan(5))); // header completes in this write
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        // The driver's file is now broken (ENODEV), but like the real channel nothing more reaches it:
        // later writes and the commit are refused with the first failure.
        var after = Assert.Throws<DeviceException>(() => ch.Write([1, 2, 3]));
        Assert.Equal((Errno.EOPNOTSUPP, DeviceErrorKind.Incompatible), (after.Errno, after.Kind));
        var commit = Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Stop));
        Assert.Equal((DeviceErrorKind.TransitionRefused, Errno.EOPNOTSUPP, MigrationState.Resuming), (commit.Kind, commit.Errno, commit.State));
        dst.Reset();
    }

    [Fact]
    public void Mlx5RecordAboveDeviceMaximumIsEnomem()
    {
        using var src = SimulatedDevice.Create("sim:profile=mlx5,size=256KiB");
        var stream = SimMigration.Save(src).Stream;
        using var small = SimulatedDevice.Create("sim:profile=mlx5,size=256KiB,max-record=64KiB");
        int errno = SimMigration.TryResume(small, stream, new Random(3), 3, out bool atWrite);
        Assert.Equal(Errno.ENOMEM, errno);
        Assert.True(atWrite);
        // A source chunking below the destination's maximum fits.
        using var chunked = SimulatedDevice.Create("sim:profile=mlx5,size=256KiB,chunk=64KiB");
        var fits = SimMigration.Save(chunked).Stream;
        Assert.Equal(0, SimMigration.TryResume(small, fits, new Random(4), 4096, out _));
        Assert.Equal(chunked.StateDigest, small.StateDigest);
    }

    [Fact]
    public void Mlx5UnknownOptionalRecordIsSkippedAtWriteButNotAcceptedAsState()
    {
        using var src = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB");
        var stream = SimMigration.Save(src).Stream;
        var extra = Record(5, 1, 9, 5);
        using var dst = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB");
        var ch = dst.SetState(MigrationState.Resuming)!;
        ch.Write(extra);  // the driver skips unknown optional records
        ch.Write(stream);
        var e = Assert.Throws<DeviceException>(() => dst.SetState(MigrationState.Stop));
        Assert.Equal(Errno.EINVAL, e.Errno); // but a correct source of this profile never sends one
        Assert.Contains("optional", dst.LastResumeProblem);
        dst.Reset();
    }

    [Fact]
    public void Mlx5ContentErrorSurfacesAtTheWriteCompletingTheRecord()
    {
        using var src = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB,chunk=64KiB");
        var stream = SimMigration.Save(src).Stream;
        var bad = (byte[])stream.Clone();
        int at = 24 + 16 + 32 + 100; // STOP_COPY_SIZE record, FW_DATA header, run header, into page 0
        bad[at] ^= 0x10;
        using var dst = SimulatedDevice.Create("sim:profile=mlx5,size=64KiB");
        var ch = dst.SetState(MigrationState.Resuming)!;
        ch.Write(bad.AsSpan(0, at + 1)); // the bad byte is accepted: the record is not complete
        ulong recordEnd = 24 + 16 + BinaryPrimitives.ReadUInt64LittleEndian(bad.AsSpan(24));
        ch.Write(bad.AsSpan(at + 1, (int)recordEnd - at - 2));
        var e = Assert.Throws<DeviceException>(() => ch.Write(bad.AsSpan((int)recordEnd - 1, 1)));
        Assert.Equal(Errno.EINVAL, e.Errno);
        dst.Reset();
    }

    // ---------- hisi ----------

    [Fact]
    public void HisiIncompatibleModelIsRefusedDuringPrecopy()
    {
        using var src = SimulatedDevice.Create("sim:profile=hisi,size=16KiB,model=1");
        using var dst = SimulatedDevice.Create("sim:profile=hisi,size=16KiB,model=2");
        var saving = src.SetState(MigrationState.PreCopy)!;
        Assert.Equal(new PrecopyInfo(32, 0), saving.GetPrecopyInfo());
        var match = new byte[64];
        var r = saving.Read(match);
        Assert.Equal(DataReadResult.Bytes(32), r);                 // PRE_COPY carries only the match data
        Assert.Equal(DataReadResult.Temporary, saving.Read(match)); // then 0-byte reads
        Assert.Equal(new PrecopyInfo(0, 0), saving.GetPrecopyInfo());

        var resuming = dst.SetState(MigrationState.Resuming)!;
        var e = Assert.Throws<DeviceException>(() => resuming.Write(match.AsSpan(0, 32)));
        Assert.Equal((Errno.EFAULT, DeviceErrorKind.Incompatible), (e.Errno, e.Kind));
        Assert.Equal(MigrationState.PreCopy, src.GetState()); // found while the source VM still runs
        dst.Reset();

        // A different size is incompatible too; the same model and size is fine.
        using var other = SimulatedDevice.Create("sim:profile=hisi,size=32KiB,model=1");
        Assert.Throws<DeviceException>(() => other.SetState(MigrationState.Resuming)!.Write(match.AsSpan(0, 32)));
        using var same = SimulatedDevice.Create("sim:profile=hisi,size=16KiB,model=1");
        same.SetState(MigrationState.Resuming)!.Write(match.AsSpan(0, 32));
    }

    [Fact]
    public void DifferentSeedIsIncompatible()
    {
        foreach (var profile in new[] { "mtty", "mlx5", "hisi", "bulk" })
        {
            string size = profile == "mtty" ? "" : ",size=16KiB";
            using var src = SimulatedDevice.Create($"sim:profile={profile}{size},seed=1");
            var stream = SimMigration.Save(src).Stream;
            using var dst = SimulatedDevice.Create($"sim:profile={profile}{size},seed=2");
            Assert.NotEqual(0, SimMigration.TryResume(dst, stream, new Random(5), 4096, out _));
        }
    }
}
