namespace StreamKit.Transport.Control;

/// <summary>What <see cref="ControlLineReader.TryReadLine"/> found.</summary>
internal enum LineStatus
{
    /// <summary>A complete line was returned.</summary>
    Line,
    /// <summary>No complete line yet: receive more bytes.</summary>
    NeedMore,
    /// <summary>The pending line exceeds <see cref="ControlLimits.MaxLineBytes"/>: the connection must be closed.</summary>
    TooLong,
}

/// <summary>Why the fds that came with a line cannot be used.</summary>
internal enum FdFault
{
    /// <summary>No problem.</summary>
    None,
    /// <summary>The fds did not arrive with the line's first byte (spec §3.2): they are closed.</summary>
    Misplaced,
    /// <summary>More fds than fit in one message were attached (MSG_CTRUNC): the ones that arrived are closed.</summary>
    Truncated,
}

/// <summary>
/// One line (without its LF) and the fds associated with it. <see cref="Bytes"/> points into the
/// reader's buffer and is valid only until the reader's next <see cref="ControlLineReader.GetReceiveSpace"/>.
/// </summary>
internal readonly record struct ControlLine(ReadOnlyMemory<byte> Bytes, PassedFd[] Fds, FdFault Fault, long StreamOffset);

/// <summary>
/// Splits a byte stream received with recvmsg into LF-terminated lines, in one fixed buffer of
/// <see cref="ControlLimits.MaxLineBytes"/> bytes (nothing is allocated per byte received, and
/// nothing beyond the line limit ever), and associates received fds with lines:
/// the fds one recvmsg delivered belong to the line that contains the last byte that same
/// recvmsg delivered, and that line's first byte must have come in the same recvmsg
/// (spec/control-protocol.md §3.2). Use: drain <see cref="TryReadLine"/> until
/// <see cref="LineStatus.NeedMore"/>, receive into <see cref="GetReceiveSpace"/>, then <see cref="Commit"/>.
/// </summary>
internal sealed class ControlLineReader : IDisposable
{
    private readonly byte[] _buffer;
    private int _start;       // first unconsumed byte; always the first byte of a line
    private int _end;         // end of received bytes
    private int _scanned;     // [_start, _scanned) is known to hold no LF
    private long _bufferBase; // stream offset of _buffer[0]
    private readonly List<FdBatch> _batches = new(1);

    private readonly record struct FdBatch(long LineStart, PassedFd[] Fds, FdFault Fault);

    /// <summary>Creates a reader with a buffer of <paramref name="maxLineBytes"/> (the line limit, LF included).</summary>
    internal ControlLineReader(int maxLineBytes = ControlLimits.MaxLineBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 2);
        _buffer = GC.AllocateUninitializedArray<byte>(maxLineBytes);
    }

    /// <summary>Stream offset of the next unconsumed byte.</summary>
    internal long Position => _bufferBase + _start;

    /// <summary>Bytes of an incomplete line held in the buffer.</summary>
    internal int PendingBytes => _end - _start;

    /// <summary>Free space after moving the pending partial line to the front of the buffer.</summary>
    internal Span<byte> GetReceiveSpace()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferBase += _start;
            _end -= _start;
            _scanned -= _start;
            _start = 0;
        }
        return _buffer.AsSpan(_end);
    }

    /// <summary>
    /// Records <paramref name="count"/> bytes just received into <see cref="GetReceiveSpace"/> and
    /// the fds that came with them (ownership passes to the reader until the line is returned).
    /// </summary>
    internal void Commit(int count, ReadOnlySpan<int> fds, bool fdsTruncated)
    {
        if ((uint)count > (uint)(_buffer.Length - _end)) throw new ArgumentOutOfRangeException(nameof(count));
        int first = _end;
        _end += count;
        if (fds.IsEmpty && !fdsTruncated) return;

        var owned = new PassedFd[fds.Length];
        for (int i = 0; i < fds.Length; i++) owned[i] = new PassedFd(fds[i]);
        if (count == 0)
        {
            // Nothing to attach them to (cannot happen on Linux): close them.
            foreach (var fd in owned) fd.Dispose();
            return;
        }

        // The line containing the last byte just received begins after the previous LF.
        int last = _end - 1;
        int lf = _buffer.AsSpan(_start, last - _start).LastIndexOf((byte)'\n');
        int lineStart = lf < 0 ? _start : _start + lf + 1;
        FdFault fault = fdsTruncated ? FdFault.Truncated : lineStart < first ? FdFault.Misplaced : FdFault.None;
        long absolute = _bufferBase + lineStart;

        for (int i = 0; i < _batches.Count; i++)
        {
            if (_batches[i].LineStart != absolute) continue;
            // A second batch for one line: its first byte cannot have come with both.
            _batches[i] = new FdBatch(absolute, [.. _batches[i].Fds, .. owned], FdFault.Misplaced);
            return;
        }
        _batches.Add(new FdBatch(absolute, owned, fault));
    }

    /// <summary>Returns the next complete line, or says why there is none.</summary>
    internal LineStatus TryReadLine(out ControlLine line)
    {
        int lf = _buffer.AsSpan(_scanned, _end - _scanned).IndexOf((byte)'\n');
        if (lf < 0)
        {
            _scanned = _end;
            line = default;
            return _end - _start >= _buffer.Length ? LineStatus.TooLong : LineStatus.NeedMore;
        }

        int lineEnd = _scanned + lf;
        long offset = _bufferBase + _start;
        PassedFd[] fds = [];
        FdFault fault = FdFault.None;
        for (int i = 0; i < _batches.Count; i++)
        {
            if (_batches[i].LineStart != offset) continue;
            fds = _batches[i].Fds;
            fault = _batches[i].Fault;
            _batches.RemoveAt(i);
            break;
        }
        line = new ControlLine(_buffer.AsMemory(_start, lineEnd - _start), fds, fault, offset);
        _start = _scanned = lineEnd + 1;
        return LineStatus.Line;
    }

    /// <summary>Drops the pending partial line (end of stream) and closes fds that came with it; returns the bytes dropped.</summary>
    internal int DiscardPending()
    {
        int dropped = _end - _start;
        _start = _scanned = _end;
        CloseBatches();
        return dropped;
    }

    /// <summary>Closes every fd not yet handed out with a line.</summary>
    public void Dispose() => CloseBatches();

    private void CloseBatches()
    {
        foreach (var batch in _batches)
            foreach (var fd in batch.Fds) fd.Dispose();
        _batches.Clear();
    }
}
