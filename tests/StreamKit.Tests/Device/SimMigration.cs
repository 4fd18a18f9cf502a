using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

/// <summary>Drives simulated devices the way a sender/receiver would, for tests.</summary>
internal static class SimMigration
{
    /// <summary>Result of saving a source: the exact stream, the digest when it stopped, and how much came in pre-copy.</summary>
    internal sealed record Saved(byte[] Stream, ulong DigestAtStop, long PrecopyBytes);

    /// <summary>
    /// Saves everything: PRE_COPY (when advertised) read to its temporary end, polling precopy info
    /// between rounds (mlx5 makes new data only there), then STOP_COPY read to the final end, then STOP.
    /// </summary>
    internal static Saved Save(SimulatedDevice source, int readSize = 4096, int precopyRounds = 4, bool precopy = true)
    {
        var stream = new MemoryStream();
        var buffer = new byte[readSize];
        IMigrationDataChannel channel;
        long precopyBytes = 0;
        if (precopy && (source.Features & MigrationFeatures.PreCopy) != 0)
        {
            channel = source.SetState(MigrationState.PreCopy) ?? throw new Xunit.Sdk.XunitException("PRE_COPY opened no channel");
            for (int round = 0; round < precopyRounds; round++)
            {
                DrainTo(channel, buffer, stream, DataReadStatus.TemporaryEnd);
                var info = channel.GetPrecopyInfo();
                Assert.NotNull(info);
                if (info.Value is { InitialBytes: 0, DirtyBytes: 0 }) break;
            }
            precopyBytes = stream.Length;
            Assert.Null(source.SetState(MigrationState.StopCopy)); // the same session continues
        }
        else
        {
            channel = source.SetState(MigrationState.StopCopy) ?? throw new Xunit.Sdk.XunitException("STOP_COPY opened no channel");
        }
        DrainTo(channel, buffer, stream, DataReadStatus.FinalEnd);
        Assert.Equal(DataReadResult.Final, channel.Read(buffer)); // the end is for good
        ulong digest = source.StateDigest;
        Assert.Null(source.SetState(MigrationState.Stop));
        Assert.Equal(DataReadResult.Dead, channel.Read(buffer)); // leaving the group disabled the fd
        channel.Dispose();
        return new Saved(stream.ToArray(), digest, precopyBytes);
    }

    internal static void DrainTo(IMigrationDataChannel channel, byte[] buffer, Stream sink, DataReadStatus expectedEnd)
    {
        while (true)
        {
            var r = channel.Read(buffer);
            if (r.Status == DataReadStatus.Data)
            {
                Assert.InRange(r.Count, 1, buffer.Length);
                sink.Write(buffer, 0, r.Count);
                continue;
            }
            Assert.Equal(expectedEnd, r.Status);
            return;
        }
    }

    /// <summary>RESUMING, then the stream in random segments (1..maxSegment bytes). Returns the channel (still open).</summary>
    internal static IMigrationDataChannel WriteAll(SimulatedDevice destination, ReadOnlySpan<byte> stream, Random rng, int maxSegment)
    {
        var channel = destination.SetState(MigrationState.Resuming) ?? throw new Xunit.Sdk.XunitException("RESUMING opened no channel");
        Assert.False(channel.IsSaving);
        int at = 0;
        while (at < stream.Length)
        {
            int n = Math.Min(stream.Length - at, rng.Next(1, maxSegment + 1));
            channel.Write(stream.Slice(at, n));
            at += n;
        }
        return channel;
    }

    /// <summary>Writes then commits (RESUMING → RUNNING).</summary>
    internal static void Resume(SimulatedDevice destination, ReadOnlySpan<byte> stream, Random rng, int maxSegment)
    {
        using var channel = WriteAll(destination, stream, rng, maxSegment);
        Assert.Null(destination.SetState(MigrationState.Running));
        Assert.Throws<DeviceException>(() => channel.Write([0])); // session over: ENODEV
    }

    /// <summary>
    /// Feeds a stream to a fresh RESUMING session and commits; returns the errno of the first failure
    /// (write or commit), or 0 on success. Leaves the device RUNNING (reset after a failure).
    /// </summary>
    internal static int TryResume(SimulatedDevice destination, ReadOnlySpan<byte> stream, Random rng, int maxSegment, out bool failedAtWrite)
    {
        failedAtWrite = false;
        using var channel = destination.SetState(MigrationState.Resuming)!;
        int at = 0;
        try
        {
            while (at < stream.Length)
            {
                int n = Math.Min(stream.Length - at, rng.Next(1, maxSegment + 1));
                channel.Write(stream.Slice(at, n));
                at += n;
            }
        }
        catch (DeviceException e)
        {
            failedAtWrite = true;
            Assert.Equal(MigrationState.Resuming, e.State);
            // A failed write poisons the session: the commit is refused before it reaches the device, as VfioDevice refuses it.
            var commit = Assert.Throws<DeviceException>(() => destination.SetState(MigrationState.Stop));
            Assert.Equal((DeviceErrorKind.TransitionRefused, e.Errno, MigrationState.Resuming), (commit.Kind, commit.Errno, commit.State));
            destination.Reset();
            return e.Errno;
        }
        try
        {
            destination.SetState(MigrationState.Running);
            return 0;
        }
        catch (DeviceException e)
        {
            Assert.Equal(DeviceErrorKind.CommitFailed, e.Kind);
            Assert.Equal(MigrationState.Resuming, e.State);
            Assert.Equal(MigrationState.Resuming, destination.GetState());
            destination.Reset();
            return e.Errno;
        }
    }
}
