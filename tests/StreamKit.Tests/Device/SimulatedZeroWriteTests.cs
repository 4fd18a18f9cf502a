using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

/// <summary>
/// <see cref="IMigrationDataChannel.WriteZeros"/> on a simulated destination (the bulk profile checks whole
/// zero pages by the generator's zero flag) ends exactly as writing the zero bytes does: the same state and
/// digest for a genuine stream, the same refusal (errno and reason) for zeros where the source had data.
/// </summary>
public class SimulatedZeroWriteTests
{
    private const string Spec = "sim:profile=bulk,size=1MiB,seed=21,zero=0.5";

    /// <summary>
    /// Writes <paramref name="stream"/> in random segments; inside each segment every stretch of zero bytes
    /// (whole pages, page tails, header fields, single bytes of random data) goes through WriteZeros when
    /// <paramref name="zerosAsCount"/>, else through Write, so both ways see the same segmentation.
    /// </summary>
    private static void WriteStretches(IMigrationDataChannel channel, ReadOnlySpan<byte> stream, int seed, bool zerosAsCount)
    {
        var rng = new Random(seed);
        int at = 0;
        while (at < stream.Length)
        {
            var segment = stream.Slice(at, Math.Min(stream.Length - at, rng.Next(1, 20_000)));
            for (int i = 0; i < segment.Length;)
            {
                int zeros = segment[i..].IndexOfAnyExcept((byte)0) is var nz and >= 0 ? nz : segment.Length - i;
                if (zeros > 0)
                {
                    if (zerosAsCount) channel.WriteZeros(zeros);
                    else channel.Write(segment.Slice(i, zeros));
                    i += zeros;
                    continue;
                }
                int data = segment[i..].IndexOf((byte)0) is var z and >= 0 ? z : segment.Length - i;
                channel.Write(segment.Slice(i, data));
                i += data;
            }
            at += segment.Length;
        }
    }

    /// <summary>Resumes <paramref name="stream"/> into a fresh blank destination; the commit's outcome (0 or errno, message).</summary>
    private static (int Errno, string? Message, ulong Digest) Resume(byte[] stream, bool zerosAsCount)
    {
        using var destination = SimulatedDevice.Create(Spec + ",state=blank");
        using var channel = destination.SetState(MigrationState.Resuming)!;
        WriteStretches(channel, stream, seed: 5, zerosAsCount);
        try
        {
            destination.SetState(MigrationState.Running);
            return (0, null, destination.StateDigest);
        }
        catch (DeviceException e)
        {
            return (e.Errno, e.Message, destination.StateDigest);
        }
    }

    private static SimMigration.Saved SaveSource()
    {
        using var source = SimulatedDevice.Create(Spec);
        source.SimulateGuestActivity(5);
        return SimMigration.Save(source, readSize: 64 << 10);
    }

    [Fact]
    public void ZeroWritesRebuildTheSameStateAsZeroBytes()
    {
        var saved = SaveSource();
        Assert.True(saved.Stream.AsSpan().Count((byte)0) > saved.Stream.Length / 3, "half the pages are zero");
        var asBytes = Resume(saved.Stream, zerosAsCount: false);
        var asCount = Resume(saved.Stream, zerosAsCount: true);
        Assert.Equal((0, (string?)null, saved.DigestAtStop), asBytes);
        Assert.Equal(asBytes, asCount);
    }

    [Theory]
    [InlineData(0, 4096)]      // a whole non-zero page: the fast path's zero flag must say no
    [InlineData(100, 5000)]    // its tail and into what follows: partial units go byte by byte
    [InlineData(-16, 4112)]    // the bytes before the page (header or previous page), then the page
    public void ZerosWhereTheSourceHadDataFailTheCommitAsZeroBytesDo(int from, int length)
    {
        var saved = SaveSource();
        // The first run starts at stream byte 0: a 32-byte header, then its pages.
        const int header = 32;
        int page = Enumerable.Range(0, 64).First(k => saved.Stream.AsSpan(header + k * 4096 + 16, 4080).ContainsAnyExcept((byte)0));
        var corrupt = (byte[])saved.Stream.Clone();
        corrupt.AsSpan(header + page * 4096 + from, length).Clear();

        var asBytes = Resume(corrupt, zerosAsCount: false);
        var asCount = Resume(corrupt, zerosAsCount: true);
        Assert.NotEqual(0, asBytes.Errno);
        Assert.Equal(asBytes, asCount);
    }

    [Fact]
    public void ZeroWritesAfterTheEndRecordAreRefusedAsZeroBytesAre()
    {
        var saved = SaveSource();
        var outcomes = new[] { false, true }.Select(zerosAsCount =>
        {
            using var destination = SimulatedDevice.Create(Spec + ",state=blank");
            using var channel = destination.SetState(MigrationState.Resuming)!;
            channel.Write(saved.Stream);
            var e = Assert.Throws<DeviceException>(() =>
            {
                if (zerosAsCount) channel.WriteZeros(4096);
                else channel.Write(new byte[4096]);
            });
            return (e.Kind, e.Errno, e.Message);
        }).ToArray();
        Assert.Equal(outcomes[0], outcomes[1]);
    }

    [Fact]
    public void TheFdChannelWritesTheZeroBytesIntoItsFd()
    {
        // The real data_fd path (the interface's default): every zero byte reaches the fd, in order with the data.
        var (r, w) = TestPipes.Create();
        var received = new MemoryStream();
        var reader = Task.Run(() =>
        {
            var buffer = new byte[65536];
            int n;
            while ((n = TestPipes.Read(r, buffer)) > 0) received.Write(buffer, 0, n);
        });
        using (var channel = FdDataChannels.OpenResuming(w))
        {
            channel.Write([1, 2, 3]);
            channel.WriteZeros(600_000); // more than the shared zero block
            channel.WriteZeros(0);
            channel.Write([4]);
            Assert.Throws<ArgumentOutOfRangeException>(() => channel.WriteZeros(-1));
        }
        Assert.True(reader.Wait(TimeSpan.FromSeconds(20)));
        TestPipes.Close(r);
        var expected = new byte[600_004];
        (expected[0], expected[1], expected[2], expected[^1]) = (1, 2, 3, 4);
        Assert.Equal(expected, received.ToArray());
    }
}
