using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// The receiver's write paths: a channel loop writes an in-order chunk into the device itself (after its
/// CRC was checked), chunks it cannot write inline (early ones, or while another thread owns the device)
/// go through the reassembly store and the writer thread, and one pinned buffer budget serves the
/// receive windows and the store together.
/// </summary>
public sealed class InlineWriteTests
{
    private const string Spec = "sim:profile=bulk,size=2MiB,seed=5";
    private const int Chunk = 64 * 1024;

    private static ReceiverOptions Options(long cap = 64L << 20) => CraftedStream.Options(Chunk, cap);

    [Fact]
    public async Task InOrderChunkIsWrittenInlineAndACorruptedPayloadNeverReachesTheDevice()
    {
        var ct = Deadline();
        var (source, blank) = Pair(Spec);
        using var _ = source;
        ulong destinationBefore = blank.StateDigest;
        using var destination = new RecordingDevice(blank);
        var stream = CraftedStream.Build(source, destination, channels: 1, Chunk, _ => 0);
        int good = 10;                       // DEVICE_BEGIN + 9 DATA chunks arrive first
        int corrupt = good + 1;              // then one more good DATA chunk, then a corrupted one
        stream.Channels[0][stream.Pieces[corrupt].Start + ChunkHeader.Size + 100] ^= 0x40;

        await using var feed = new CraftedStream.Feed(stream, destination, Options());
        var session = feed.Receiver.Session;
        var receiving = Capture(feed.Receiver.RunAsync(ct));
        await feed.SendAsync(0, stream.Pieces[good - 1].End, ct);
        await CraftedStream.Feed.UntilAsync(() => session.ChunksApplied == good && session.Writers[0].Inbox.Idle, ct);
        // Nothing is queued and nobody writes the device: the next chunk is the loop's to write.
        long inlineBefore = session.ChunksAppliedInline;
        await feed.SendAsync(0, stream.Pieces[good].End, ct);
        await CraftedStream.Feed.UntilAsync(() => session.ChunksApplied == good + 1 && session.Writers[0].Inbox.Idle, ct);
        Assert.Equal(inlineBefore + 1, session.ChunksAppliedInline);
        await feed.FinishAsync(0, ct);

        var (result, error) = await receiving;
        Assert.Null(result);
        var e = Assert.IsType<MigrationException>(error);
        Assert.Equal(StreamErrorCode.PayloadChecksumMismatch, e.Code);
        // The device got exactly the chunks before the corrupted one, byte for byte, then was reset.
        var written = Assert.Single(destination.Sessions);
        byte[] expected = [.. Enumerable.Range(1, good).SelectMany(i => stream.Payload(i).ToArray())];
        Assert.Equal(expected, written);
        Assert.Equal(MigrationState.Running, destination.GetState());
        Assert.Equal(destinationBefore, blank.StateDigest);
    }

    [Fact]
    public async Task EarlyChunksWaitInTheStoreAndAreWrittenInOrderOnceTheGapCloses()
    {
        var ct = Deadline();
        var (source, blank) = Pair(Spec);
        using var _ = source;
        using var __ = blank;
        ulong sourceDigest = source.StateDigest;
        // DEVICE_BEGIN and every even DATA chunk on channel 0; odd DATA chunks and DEVICE_END on channel 1.
        var stream = CraftedStream.Build(source, blank, channels: 2, Chunk, i => i == 0 ? 0 : (i % 2 == 0 ? 0 : 1));
        int early = stream.Pieces.Count(p => p.Channel == 1);
        long charged = stream.Pieces.Where(p => p.Channel == 1).Sum(p => p.End - p.Start - ChunkHeader.Size + (long)WireLimits.ReassemblyEntryOverhead);

        await using var feed = new CraftedStream.Feed(stream, blank, Options());
        var session = feed.Receiver.Session;
        var receiving = Capture(feed.Receiver.RunAsync(ct));
        await feed.SendPreamblesAsync(ct);
        await feed.FinishAsync(1, ct);
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HeldCount == early, ct);
        Assert.Equal(0, session.ChunksApplied);
        await feed.FinishAsync(0, ct);

        var (result, error) = await receiving;
        Assert.Null(error);
        Assert.True(Assert.Single(result!.Devices).Committed);
        Assert.Equal(sourceDigest, blank.StateDigest);
        Assert.Equal(stream.DeviceChunks, session.ChunksApplied);
        Assert.Equal(charged, session.Store!.Peak);
        Assert.Equal(0, session.Store.Used);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task ChannelsRacingOnOneDeviceNeverWriteItAtOnceAndKeepItsOrder(int channels)
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=8MiB,seed=5");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        // Chunk i on channel i mod N: every channel carries the device, all fed at once (2,048 chunks of 4 KiB).
        var stream = CraftedStream.Build(source, destination, channels, 4096, i => i % channels);

        await using var feed = new CraftedStream.Feed(stream, destination, Options());
        var receiving = Capture(feed.Receiver.RunAsync(ct));
        await feed.SendPreamblesAsync(ct);
        await Task.WhenAll(Enumerable.Range(0, channels).Select(c => Task.Run(() => feed.FinishAsync(c, ct))));

        var (result, error) = await receiving;
        Assert.Null(error);
        Assert.True(Assert.Single(result!.Devices).Committed);
        Assert.Equal(sourceDigest, blank.StateDigest);
        Assert.Equal(0, destination.OverlappingWrites);
        Assert.Equal(stream.DeviceChunks, feed.Receiver.Session.ChunksApplied);
    }

    [Fact]
    public async Task RealMigrationOverFourChannelsNeverWritesTheDeviceTwiceAtOnceAndStaysInsideTheBudget()
    {
        var (source, blank) = Pair("sim:profile=bulk,size=16MiB,seed=9");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        MigrationReceiver? receiver = null;
        var outcome = await RunAsync(source, destination, Sender(chunkSize: 64 * 1024), Receiver(), LoopbackTcp(), channels: 4,
            started: (_, r) => receiver = r);
        Assert.Null(outcome.SendError);
        Assert.Null(outcome.ReceiveError);
        Assert.Equal(sourceDigest, blank.StateDigest);
        Assert.Equal(0, destination.OverlappingWrites);
        // The sender honours the window (the cap): all pinned buffers together stay within cap + slack, whatever the channel count.
        Assert.InRange(receiver!.Session.PoolPeakRentedBytes, 1, (64L << 20) + ReceiverSession.BufferSlack);
    }

    [Fact]
    public async Task FourChannelsOfEarlyChunksStayInsideTheSharedBudgetAndComplete()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=8MiB,seed=6");
        using var _ = source;
        using var __ = blank;
        ulong sourceDigest = source.StateDigest;
        const long cap = 8L << 20;
        // Chunk i on channel i mod 4; channels 1-3 arrive whole before channel 0 (which has DEVICE_BEGIN): three quarters wait.
        var stream = CraftedStream.Build(source, blank, channels: 4, Chunk, i => i % 4);
        int early = stream.Pieces.Count(p => p.Channel != 0);
        long charged = stream.Pieces.Where(p => p.Channel != 0).Sum(p => p.End - p.Start - ChunkHeader.Size + (long)WireLimits.ReassemblyEntryOverhead);

        await using var feed = new CraftedStream.Feed(stream, blank, Options(cap));
        var session = feed.Receiver.Session;
        var receiving = Capture(feed.Receiver.RunAsync(ct));
        await feed.SendPreamblesAsync(ct);
        for (int c = 1; c < 4; c++) await feed.FinishAsync(c, ct);
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HeldCount == early, ct);
        await feed.FinishAsync(0, ct);

        var (result, error) = await receiving;
        Assert.Null(error);
        Assert.Equal(sourceDigest, blank.StateDigest);
        Assert.Equal(charged, session.Store!.Peak);
        // The copies and the four receive windows drew on one budget: cap + slack, not a pool each.
        Assert.InRange(session.PoolPeakRentedBytes, charged - early * (long)WireLimits.ReassemblyEntryOverhead, cap + ReceiverSession.BufferSlack);
        Assert.Equal(0, session.Store.Used);
    }

    [Fact]
    public async Task EarlyChunksBeyondTheCapFailAsReassemblyOverflowAndResetTheDevice()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=4MiB,seed=6");
        using var _ = source;
        using var __ = blank;
        ulong before = blank.StateDigest;
        // 2 MiB of early chunks on channel 1 against a 1 MiB cap: the sender ignored the window.
        var stream = CraftedStream.Build(source, blank, channels: 2, Chunk, i => i == 0 ? 0 : i % 2);

        await using var feed = new CraftedStream.Feed(stream, blank, Options(1L << 20));
        var receiving = Capture(feed.Receiver.RunAsync(ct));
        await feed.SendPreamblesAsync(ct);
        await feed.FinishAsync(1, ct);
        var (result, error) = await receiving;
        AssertReceiveFailed(result, error, StreamErrorCode.ReassemblyOverflow, blank, before);
    }
}
