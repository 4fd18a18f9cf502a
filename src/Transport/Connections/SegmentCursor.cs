namespace StreamKit.Transport;

/// <summary>
/// Where a gather send or write stands in its segment list after a short transfer: which segment is next and how many
/// of its bytes already went. Shared by the socket and file connections, whose syscalls may take fewer bytes than given.
/// </summary>
internal static class SegmentCursor
{
    /// <summary>Moves (<paramref name="index"/>, <paramref name="skip"/>) forward over <paramref name="transferred"/> bytes.</summary>
    internal static void Advance(IReadOnlyList<ReadOnlyMemory<byte>> segments, long transferred, ref int index, ref int skip)
    {
        while (transferred > 0)
        {
            int available = segments[index].Length - skip;
            if (transferred < available) { skip += (int)transferred; return; }
            transferred -= available;
            index++;
            skip = 0;
        }
    }
}
