using StreamKit.Device;
using StreamKit.Tests.Format.Support;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// Early chunks held in place: a channel loop that receives blocking (here: real loopback TCP sockets fed
/// crafted streams) and meets a chunk whose predecessor is on another channel sleeps until that predecessor
/// was routed, then routes its chunk from the receive buffer, instead of copying it into the reassembly store.
/// Holds are of one device at a time (two devices could otherwise wait on each other across two channels for
/// ever), bounded in time (then the chunk is copied after all), and end when a DISCARD voids the held chunk's
/// epoch, when the session fails, or when no channel left can deliver the held chunk's predecessor (every other
/// one has ended or holds an early chunk too). Most tests set
/// the bound longer than their deadline, so only the mechanism under test can end a hold in time.
/// </summary>
public sealed class EarlyChunkHoldTests
{
    private const int Chunk = 64 * 1024;
    private static readonly long Charge = Chunk + (long)WireLimits.ReassemblyEntryOverhead;

    private static ReceiverOptions Options(TimeSpan hold) => CraftedStream.Options(Chunk, hold: hold);

    /// <summary>Longer than any test's deadline: a hold that nothing else ends hangs the test.</summary>
    private static readonly TimeSpan Forever = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A receiver on TCP of one device whose DATA chunk 5 travels on channel 1, all its other chunks on channel 0;
    /// channel 1 has been sent whole (its loop meets chunk 5 early), channel 0 only its preamble. The caller
    /// disposes the feed.
    /// </summary>
    private static async Task<(CraftedStream Stream, CraftedStream.Feed Feed, Task<(MigrationResult? Value, Exception? Error)> Receiving)> EarlyChunk5Async(
        SimulatedDevice source, IMigrationDevice destination, TimeSpan hold, CancellationToken ct)
    {
        var stream = CraftedStream.Build(source, destination, channels: 2, Chunk, i => i == 5 ? 1 : 0);
        var (feed, receiving) = await StartAsync(stream, [destination], hold, ct);
        await feed.FinishAsync(1, ct);
        return (stream, feed, receiving);
    }

    /// <summary>
    /// The receive failed with <paramref name="code"/>, the destination device is back to what it held before
    /// (reset: RUNNING, same state), and nothing is left held, timed out or stored.
    /// </summary>
    private static MigrationException AssertFailedAndReset(MigrationResult? result, Exception? error, StreamErrorCode code,
        SimulatedDevice blank, ulong before, ReceiverSession session)
    {
        var e = AssertReceiveFailed(result, error, code, blank, before);
        var inbox = session.Writers[0].Inbox;
        Assert.Equal(0, inbox.HoldingCount);
        Assert.Equal(0, inbox.HoldTimeouts);
        Assert.Equal(0, session.EarlyChunksHeldInPlace);
        Assert.Equal(0, session.Store!.Used);
        return e;
    }

    /// <summary>Connects <paramref name="stream"/>'s channels over TCP, starts the receiver and sends every preamble; the caller disposes the feed.</summary>
    private static async Task<(CraftedStream.Feed Feed, Task<(MigrationResult? Value, Exception? Error)> Receiving)> StartAsync(
        CraftedStream stream, IMigrationDevice[] destinations, TimeSpan hold, CancellationToken ct)
    {
        var feed = await CraftedStream.Feed.ConnectTcpAsync(stream, destinations, Options(hold), ct);
        var receiving = Capture(feed.Receiver.RunAsync(ct).WaitAsync(ct));
        await feed.SendPreamblesAsync(ct);
        return (feed, receiving);
    }

    /// <summary>The device bytes of device index <paramref name="device"/>'s DATA chunks <paramref name="first"/> up to <paramref name="last"/> (default: all up to DEVICE_END), in order.</summary>
    private static byte[] Written(CraftedStream stream, int device, int first = 1, int? last = null)
    {
        last ??= stream.Pieces.Where(p => p.Device == device).Max(p => p.Chunk) - 1; // before DEVICE_END
        return [.. Enumerable.Range(first, last.Value - first + 1).SelectMany(c => stream.Payload(stream.IndexOf(device, c)).ToArray())];
    }

    /// <summary>
    /// The stream completed: every device committed and holds its source's state, and got each DATA payload
    /// once, in stream order (one RESUMING session, byte for byte).
    /// </summary>
    private static void AssertCompleted((MigrationResult? Value, Exception? Error) outcome, CraftedStream stream,
        params (ulong SourceDigest, SimulatedDevice Blank, RecordingDevice Recorded)[] devices)
    {
        Assert.Null(outcome.Error);
        Assert.Equal(devices.Length, outcome.Value!.Devices.Count(d => d.Committed));
        for (int d = 0; d < devices.Length; d++)
        {
            Assert.Equal(devices[d].SourceDigest, devices[d].Blank.StateDigest);
            Assert.Equal(Written(stream, d), Assert.Single(devices[d].Recorded.Sessions));
        }
    }

    [Fact]
    public async Task AHeldChunkIsWrittenOnceInOrderFromItsReceiveBufferWithoutACopy()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=31");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        var (stream, feed, receiving) = await EarlyChunk5Async(source, destination, Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HoldingCount == 1, ct);
        Assert.Equal(0, session.ChunksApplied);
        Assert.Equal(0, session.Store!.Used);
        await feed.FinishAsync(0, ct);

        AssertCompleted(await receiving, stream, (sourceDigest, blank, destination));
        Assert.Equal(0, destination.OverlappingWrites);
        Assert.Equal(stream.DeviceChunks, session.ChunksApplied);
        var inbox = session.Writers[0].Inbox;
        // Chunk 5; and chunk 6 too when channel 0 met it before channel 1's loop, woken, had routed 5.
        Assert.InRange(inbox.HeldInPlace, 1, 2);
        Assert.Equal(0, inbox.HoldTimeouts);
        Assert.Equal(0, session.Store.Peak);
        Assert.Equal(2, session.ChannelLoopsOnDedicatedThreads);
    }

    [Fact]
    public async Task TwoDevicesWhoseEarlyChunksWaitOnEachOtherAcrossTwoChannelsComplete()
    {
        var ct = Deadline();
        var (sourceX, blankX) = Pair("sim:profile=bulk,size=1MiB,seed=32");
        var (sourceY, blankY) = Pair("sim:profile=bulk,size=1MiB,seed=33");
        using var _ = sourceX;
        using var __ = sourceY;
        ulong digestX = sourceX.StateDigest, digestY = sourceY.StateDigest;
        using var x = new RecordingDevice(blankX);
        using var y = new RecordingDevice(blankY);
        // Chunk 4 of each device on channel 1, everything else on channel 0; written alternately, so channel 0
        // carries ... X3 Y3 X5 Y5 ... and channel 1 X4 Y4. Swapped into a cycle: channel 0 ... X3 X5 Y3 ...,
        // channel 1 Y4 X4. X5 waits for X4, behind Y4 on channel 1; Y4 waits for Y3, behind X5 on channel 0.
        var stream = CraftedStream.Build([(sourceX, x), (sourceY, y)], channels: 2, Chunk, (_, chunk) => chunk == 4 ? 1 : 0);
        stream.SwapAdjacent(stream.IndexOf(1, 3), stream.IndexOf(0, 5));
        stream.SwapAdjacent(stream.IndexOf(0, 4), stream.IndexOf(1, 4));

        var (feed, receiving) = await StartAsync(stream, [x, y], Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        // Each channel up to its head of the cycle: both loops meet their early chunk.
        await feed.SendAsync(0, stream.Pieces[stream.IndexOf(0, 5)].End, ct);
        await feed.SendAsync(1, stream.Pieces[stream.IndexOf(1, 4)].End, ct);
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 2 && session.Writers.All(w => w.Inbox.EarlyChunks == 1), ct);
        // One of them holds its chunk in place; the other, of the other device, was copied at once.
        Assert.Equal(1, session.Writers.Sum(w => w.Inbox.HoldingCount));
        Assert.Equal(Charge, session.Store!.Used);
        await feed.FinishAsync(0, ct);
        await feed.FinishAsync(1, ct);

        AssertCompleted(await receiving, stream, (digestX, blankX, x), (digestY, blankY, y));
        // The gate, not the bound, ended the cycle (later chunks may race into more holds and copies).
        Assert.InRange(session.EarlyChunksHeldInPlace, 1, stream.DeviceChunks);
        Assert.Equal(0, session.EarlyChunkHoldTimeouts);
        Assert.Equal(0, session.Store.Used);
    }

    [Fact]
    public async Task AnAbortWhileALoopHoldsAChunkEndsTheSessionWithTheTypedFailureAndResetsTheDevice()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=34");
        using var _ = source;
        using var __ = blank;
        ulong before = blank.StateDigest;
        var (stream, feed, receiving) = await EarlyChunk5Async(source, blank, Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HoldingCount == 1, ct);
        // DEVICE_BEGIN and three DATA chunks (the device is written to), then the sender gives up.
        await feed.SendAsync(0, stream.Pieces[3].End, ct);
        await feed.SendRawAsync(0, CraftedStream.AbortChunk(StreamErrorCode.SourceDeviceFailed, "the source device failed"), ct);
        await feed.EndAsync(0, ct);

        var (result, error) = await receiving;
        AssertFailedAndReset(result, error, StreamErrorCode.PeerAborted, blank, before, session);
    }

    [Fact]
    public async Task AChunkWhosePredecessorIsLaterThanTheBoundIsCopiedAndTheStreamCompletes()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=35");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        var (stream, feed, receiving) = await EarlyChunk5Async(source, destination, TimeSpan.FromMilliseconds(20), ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        // Channel 0 sends nothing until the hold ran out: the chunk moved into the store, the loop went on.
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HoldTimeouts == 1 && session.Writers[0].Inbox.HoldingCount == 0, ct);
        Assert.Equal(Charge, session.Store!.Used);
        await feed.FinishAsync(0, ct);

        AssertCompleted(await receiving, stream, (sourceDigest, blank, destination));
        Assert.Equal(0, session.EarlyChunksHeldInPlace);
        Assert.Equal(Charge, session.Store.Peak);
        Assert.Equal(0, session.Store.Used);
    }

    [Fact]
    public async Task ADiscardOnAnotherChannelEndsTheHoldOfAnOldEpochChunkWhichNeverReachesTheDevice()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=36");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        // Epoch 0: DEVICE_BEGIN and PRE_COPY DATA 1-4; the DISCARD (chunk 5) opens epoch 1, the whole state. DATA 4 travels
        // on channel 1 (its loop meets it early and holds it), DATA 3 on channel 2 (late: sent after the DISCARD), the rest
        // on channel 0. So DATA 4's turn never comes: only the DISCARD, which voids it, can end that hold in time.
        const int Voided = 4;
        var stream = CraftedStream.Build([(source, destination)], channels: 3, Chunk, (_, chunk) => chunk switch { 3 => 2, 4 => 1, _ => 0 }, voided: Voided);
        var (feed, receiving) = await StartAsync(stream, [destination], Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await feed.FinishAsync(1, ct);
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HoldingCount == 1, ct);
        var inbox = session.Writers[0].Inbox;
        // DEVICE_BEGIN, DATA 1-2 and the DISCARD across the gap at DATA 3 (spec §5.2 step 4): the held DATA 4 is void.
        await feed.SendAsync(0, stream.Pieces[stream.IndexOf(0, Voided + 1)].End, ct);
        await CraftedStream.Feed.UntilAsync(() => inbox.HoldingCount == 0 && inbox.StaleDropped == 1, ct);
        Assert.Equal(0, inbox.HoldTimeouts);
        Assert.Equal(0, session.Store!.Peak);
        // The late DATA 3 is dropped too, while the device is still open.
        await feed.FinishAsync(2, ct);
        await CraftedStream.Feed.UntilAsync(() => inbox.StaleDropped == 2, ct);
        await feed.FinishAsync(0, ct);

        var (result, error) = await receiving;
        Assert.Null(error);
        var device = Assert.Single(result!.Devices);
        Assert.True(device.Committed);
        Assert.Equal(1, device.Discards);
        Assert.Equal(1, blank.ResetCount);
        Assert.Equal(sourceDigest, blank.StateDigest);
        // One RESUMING session per epoch: epoch 0's got DATA 1-2 and neither void chunk, epoch 1's the whole state once.
        var sessions = destination.Sessions;
        Assert.Equal(2, sessions.Count);
        Assert.Equal(Written(stream, 0, 1, 2), sessions[0]);
        Assert.Equal(Written(stream, 0, Voided + 2), sessions[1]);
        Assert.Equal(0, destination.OverlappingWrites);
        Assert.Equal(0, session.EarlyChunksHeldInPlace);
        Assert.Equal(0, session.Store.Used);
    }

    [Fact]
    public async Task AVoidedEpochsChunkArrivingAfterTheDeviceCommittedIsDroppedAndTheMigrationSucceeds()
    {
        // Spec §5.2: a chunk of a voided epoch is dropped (rule 1) before "after DEVICE_END" (rule 3) is
        // considered, so a late one on another channel does not fail a stream that is otherwise complete.
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=38");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        const int Voided = 4;
        // Epoch 0's DATA 3 and 4 travel on channel 1; channel 0 carries the rest: the DISCARD (across the gap), epoch 1, DEVICE_END.
        var stream = CraftedStream.Build([(source, destination)], channels: 2, Chunk, (_, chunk) => chunk is 3 or 4 ? 1 : 0, voided: Voided);
        var (feed, receiving) = await StartAsync(stream, [destination], Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await feed.FinishAsync(0, ct);
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Committed, ct);
        await feed.FinishAsync(1, ct);

        var (result, error) = await receiving;
        Assert.Null(error);
        Assert.True(Assert.Single(result!.Devices).Committed);
        Assert.Equal(sourceDigest, blank.StateDigest);
        Assert.Equal(2, session.Writers[0].Inbox.StaleDropped);
        Assert.Equal(Written(stream, 0, Voided + 2), destination.Sessions[^1]);
    }

    [Fact]
    public async Task AChannelThatEndsWithoutItsStreamEndBeforeTheHeldChunksPredecessorFailsTheSessionAndEndsTheHold()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=37");
        using var _ = source;
        using var __ = blank;
        ulong before = blank.StateDigest;
        var (stream, feed, receiving) = await EarlyChunk5Async(source, blank, Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HoldingCount == 1, ct);
        // DEVICE_BEGIN and DATA 1-3 (the device is written to), then channel 0 ends: no DATA 4, no STREAM_END.
        await feed.SendAsync(0, stream.Pieces[3].End, ct);
        await feed.EndAsync(0, ct);

        var (result, error) = await receiving;
        AssertFailedAndReset(result, error, StreamErrorCode.TruncatedStream, blank, before, session);
    }

    /// <summary>
    /// A chunk lost by the sender: every channel ends properly, DATA 4 was never on any. Whichever order the loops
    /// meet their chunks in, once channel 2 has ended and channel 0 meets DATA 6 while channel 1 holds DATA 5 (or the
    /// other way round), no loop left can deliver DATA 4: the holds end at once (the bound, here longer than the test,
    /// plays no part), the chunks are copied and the end of the stream finds the gap (spec §5.4).
    /// </summary>
    [Fact]
    public async Task AChunkWhosePredecessorWasLostFailsWithTheSequenceGapOnceNoChannelCanDeliverIt()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=38");
        using var _ = source;
        using var __ = blank;
        ulong before = blank.StateDigest;
        var stream = CraftedStream.Build(source, blank, channels: 3, Chunk, i => i switch { 4 => 2, 5 => 1, _ => 0 });
        // Channel 2 loses DATA 4: it carries only its STREAM_END (no chunk, no device byte before it: valid for the channel).
        stream.Channels[2] = [.. stream.Channels[2][..Preamble.Size], .. RawStream.StreamEnd(1, 0, 0)];
        var (feed, receiving) = await StartAsync(stream, [blank], Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await feed.FinishAsync(1, ct);
        await feed.FinishAsync(2, ct);
        await feed.FinishAsync(0, ct);

        var (result, error) = await receiving;
        var e = AssertFailedAndReset(result, error, StreamErrorCode.SequenceGap, blank, before, session);
        Assert.Contains("on wait for epoch 0 sequence 4", e.Message);
    }

    /// <summary>
    /// Two channels; channel 0 carries DEVICE_BEGIN and DATA 1-3, then its STREAM_END (totals of what it carried) and
    /// a FIN: DATA 4 is lost. Channel 1 carries DATA 5 to DEVICE_END. Either channel 1's loop already holds DATA 5 when
    /// channel 0 ends (the end wakes it), or channel 0 has ended before channel 1's loop meets DATA 5 (it does not
    /// hold at all). With the bound longer than the test's deadline only that can end the hold; then the chunks are
    /// copied and the end of the stream reports the gap (spec §5.4), as it would after the bound.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AHoldEndsAtOnceWhenTheOnlyChannelThatCouldDeliverItsPredecessorEndedWithoutIt(bool holdingWhenItEnds)
    {
        var ct = Deadline(30);
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=39");
        using var _ = source;
        using var __ = blank;
        ulong before = blank.StateDigest;
        const int Lost = 4;
        var stream = CraftedStream.Build(source, blank, channels: 2, Chunk, i => i <= Lost ? 0 : 1);
        // Channel 0 loses DATA 4: cut before it, and its STREAM_END counts the four chunks before (DEVICE_BEGIN, DATA 1-3).
        ulong deviceBytes = (ulong)Enumerable.Range(1, Lost - 1).Sum(c => stream.Payload(stream.IndexOf(0, c)).Length);
        stream.Channels[0] = [.. stream.Channels[0][..stream.Pieces[stream.IndexOf(0, Lost)].Start], .. RawStream.StreamEnd(1, Lost, deviceBytes)];
        var (feed, receiving) = await StartAsync(stream, [blank], Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1, ct);
        var inbox = session.Writers[0].Inbox;
        if (holdingWhenItEnds)
        {
            await feed.FinishAsync(1, ct);
            await CraftedStream.Feed.UntilAsync(() => inbox.HoldingCount == 1, ct);
            await feed.FinishAsync(0, ct);
        }
        else
        {
            await feed.FinishAsync(0, ct);
            await CraftedStream.Feed.UntilAsync(() => session.ChannelsReceiving == 1, ct);
            await feed.FinishAsync(1, ct);
        }

        var (result, error) = await receiving;
        var e = AssertFailedAndReset(result, error, StreamErrorCode.SequenceGap, blank, before, session);
        Assert.Contains($"on wait for epoch 0 sequence {Lost}", e.Message);
        Assert.Equal(holdingWhenItEnds ? 1 : 0, inbox.StrandedHolds);
    }

    /// <summary>
    /// Three channels: channel 1 holds DATA 5 while channel 2, which carries no chunk, ends normally; DATA 4 is still
    /// to come on channel 0, which is receiving, so the hold goes on (a channel's end alone ends nothing) and DATA 5
    /// is written from its receive buffer once DATA 4 came.
    /// </summary>
    [Fact]
    public async Task AHoldOutlivesTheEndOfAnotherChannelWhileTheChannelWithItsPredecessorIsStillReceiving()
    {
        var ct = Deadline();
        var (source, blank) = Pair("sim:profile=bulk,size=1MiB,seed=40");
        using var _ = source;
        ulong sourceDigest = source.StateDigest;
        using var destination = new RecordingDevice(blank);
        var stream = CraftedStream.Build(source, destination, channels: 3, Chunk, i => i == 5 ? 1 : 0);
        var (feed, receiving) = await StartAsync(stream, [destination], Forever, ct);
        await using var ___ = feed;
        var session = feed.Receiver.Session;
        await feed.FinishAsync(1, ct);
        await CraftedStream.Feed.UntilAsync(() => session.Writers.Length == 1 && session.Writers[0].Inbox.HoldingCount == 1, ct);
        var inbox = session.Writers[0].Inbox;
        await feed.FinishAsync(2, ct);
        await CraftedStream.Feed.UntilAsync(() => session.ChannelsReceiving == 2, ct);
        Assert.Equal(0, session.Store!.Used);
        await feed.FinishAsync(0, ct);

        AssertCompleted(await receiving, stream, (sourceDigest, blank, destination));
        Assert.InRange(inbox.HeldInPlace, 1, 2);
        Assert.Equal(0, inbox.StrandedHolds);
        Assert.Equal(0, inbox.HoldTimeouts);
        Assert.Equal(0, session.Store.Peak);
    }
}
