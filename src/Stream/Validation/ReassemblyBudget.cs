namespace StreamKit.Wire;

/// <summary>The stream-wide cap on bytes held for reassembly (spec §5.2): payload + 64 per chunk.</summary>
internal sealed class ReassemblyBudget(long limit, StreamSummary summary)
{
    internal long Used { get; private set; }

    internal void Take(long bytes, int channel, in Chunk chunk)
    {
        if (Used + bytes > limit)
            throw DeviceStreamState.Fail(StreamErrorCode.ReassemblyOverflow, channel, chunk,
                $"holding {Used} bytes of out-of-order chunks; this one ({bytes}) would pass the reassembly limit {limit}");
        Used += bytes;
        if (Used > summary.PeakReassemblyBytes) summary.PeakReassemblyBytes = Used;
        summary.OutOfOrderChunks++;
    }

    internal void Release(long bytes) => Used -= bytes;
}
