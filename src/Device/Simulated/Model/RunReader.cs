using System.Buffers.Binary;

namespace StreamKit.Device;

/// <summary>
/// Destination side of <see cref="UnitRunFormat"/>: consumes bytes in any segmentation, validates
/// every header (magic, kind, check, range, version strictly newer than what this session already
/// loaded for the unit), compares every content byte with what a correct source generates for
/// (unit, version), and at the end record compares the rebuilt state's digest and byte count with
/// the source's. Never allocates by a length read from the stream.
/// Structural errors make <see cref="Feed"/> return false (the caller fails the write); content or
/// end mismatches only set flags (the caller fails the commit, or the write, per profile).
/// </summary>
internal sealed class RunReader
{
    private enum Phase { Header, Data, EndPayload, Done }

    private readonly ContentGenerator _content;
    private readonly uint[] _staged;
    private readonly byte[] _head = new byte[UnitRunFormat.EndRecordBytes];
    private Phase _phase;
    private int _headFill;
    private UnitRun _run;
    private long _dataPos;
    private long _dataLength;
    private long _bytes;
    private long _recordStart;

    /// <param name="content">The destination's content function (same seed/profile as a compatible source).</param>
    /// <param name="staged">Per-unit versions being rebuilt; all 0 at the start of a session.</param>
    internal RunReader(ContentGenerator content, uint[] staged)
    {
        _content = content;
        _staged = staged;
    }

    /// <summary>The end record arrived and was well-formed.</summary>
    internal bool SawEnd => _phase == Phase.Done;

    /// <summary>Some unit's bytes differ from what a correct source produces.</summary>
    internal bool ContentMismatch { get; private set; }

    /// <summary>The end record's digest, byte count or unit coverage disagrees with what arrived.</summary>
    internal bool EndMismatch { get; private set; }

    /// <summary>First problem seen, for error messages.</summary>
    internal string? Problem { get; private set; }

    /// <summary>Not inside a run or record (a clean cut point).</summary>
    internal bool AtBoundary => _phase == Phase.Done || (_phase == Phase.Header && _headFill == 0);

    /// <summary>Run bytes consumed.</summary>
    internal long BytesConsumed => _bytes;

    /// <summary>Consumes <paramref name="src"/>; false on a structural error (see <see cref="Problem"/>).</summary>
    internal bool Feed(ReadOnlySpan<byte> src)
    {
        while (!src.IsEmpty)
        {
            int n;
            switch (_phase)
            {
                case Phase.Header:
                    if (_headFill == 0) _recordStart = _bytes;
                    n = Math.Min(UnitRunFormat.HeaderBytes - _headFill, src.Length);
                    src[..n].CopyTo(_head.AsSpan(_headFill));
                    _headFill += n;
                    if (_headFill == UnitRunFormat.HeaderBytes && !ParseHeader()) return false;
                    break;
                case Phase.Data:
                    n = ConsumeData(src);
                    break;
                case Phase.EndPayload:
                    n = Math.Min(UnitRunFormat.EndRecordBytes - _headFill, src.Length);
                    src[..n].CopyTo(_head.AsSpan(_headFill));
                    _headFill += n;
                    if (_headFill == UnitRunFormat.EndRecordBytes && !ParseEnd()) return false;
                    break;
                default:
                    return Fail($"{src.Length} bytes after the end record");
            }
            _bytes += n;
            src = src[n..];
        }
        return true;
    }

    /// <summary>
    /// <see cref="Feed"/> of <paramref name="count"/> zero bytes, with the same outcome (flags, problem text,
    /// counts): whole units inside a run are checked against the generator's zero flag instead of byte by
    /// byte (a unit equals all zeros exactly when it is a zero unit: every other unit starts with a stamp
    /// holding its non-zero version); headers and partial units go through <see cref="Feed"/>.
    /// </summary>
    internal bool FeedZeros(long count)
    {
        int unitSize = _content.UnitSize;
        while (count > 0)
        {
            if (_phase == Phase.Done) return Fail($"{count} bytes after the end record");
            long offset = _phase == Phase.Data ? _dataPos % unitSize : -1;
            if (offset == 0 && count >= unitSize)
            {
                long units = Math.Min(count, _dataLength - _dataPos) / unitSize;
                long first = _run.First + _dataPos / unitSize;
                for (long i = 0; i < units && !ContentMismatch; i++)
                {
                    if (_content.IsZero(first + i, _run.Version)) continue;
                    ContentMismatch = true;
                    Problem ??= $"unit {first + i} version {_run.Version}: bytes 0..{unitSize} differ from the source's";
                }
                long n = units * unitSize;
                _dataPos += n;
                _bytes += n;
                count -= n;
                if (_dataPos == _dataLength)
                {
                    _phase = Phase.Header;
                    _headFill = 0;
                }
                continue;
            }
            // The rest of the header, or of the unit (as Feed takes a unit: one check, one problem text per piece).
            long rest = _phase switch
            {
                Phase.Header => UnitRunFormat.HeaderBytes - _headFill,
                Phase.EndPayload => UnitRunFormat.EndRecordBytes - _headFill,
                _ => unitSize - offset,
            };
            int piece = (int)Math.Min(count, rest);
            if (!Feed(ZeroBlock.Span(piece))) return false;
            count -= piece;
        }
        return true;
    }

    private int ConsumeData(ReadOnlySpan<byte> src)
    {
        int unitSize = _content.UnitSize;
        long unit = _dataPos / unitSize;
        int offset = (int)(_dataPos - unit * unitSize);
        int n = Math.Min(unitSize - offset, src.Length);
        long index = _run.First + unit;
        if (!ContentMismatch && !_content.Matches(index, _run.Version, offset, src[..n]))
        {
            ContentMismatch = true;
            Problem ??= $"unit {index} version {_run.Version}: bytes {offset}..{offset + n} differ from the source's";
        }
        _dataPos += n;
        if (_dataPos == _dataLength)
        {
            _phase = Phase.Header;
            _headFill = 0;
        }
        return n;
    }

    private bool ParseHeader()
    {
        ReadOnlySpan<byte> h = _head;
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(h);
        ushort kind = BinaryPrimitives.ReadUInt16LittleEndian(h[4..]);
        ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(h[6..]);
        ulong a = BinaryPrimitives.ReadUInt64LittleEndian(h[8..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
        ulong check = BinaryPrimitives.ReadUInt64LittleEndian(h[24..]);
        long at = _recordStart;
        if (magic != UnitRunFormat.Magic) return Fail($"run header at run byte {at}: bad magic 0x{magic:x8}");
        if (reserved != 0 || check != UnitRunFormat.HeaderCheck(_content.Key, kind, a, count, version))
            return Fail($"run header at run byte {at}: check mismatch (corrupt header or different seed/profile)");
        if (kind == UnitRunFormat.KindEnd)
        {
            if (a != (ulong)_staged.Length || count != 0 || version != 0)
                return Fail($"end record for {a} units, device has {_staged.Length}");
            _phase = Phase.EndPayload;
            return true;
        }
        if (kind != UnitRunFormat.KindUnits) return Fail($"run header at run byte {at}: unknown kind {kind}");
        if (count is 0 or > UnitRunFormat.MaxUnitsPerRun || version == 0 || a >= (ulong)_staged.Length
            || a + count > (ulong)_staged.Length)
            return Fail($"run of {count} units at {a} version {version} does not fit a device of {_staged.Length} units");
        for (int i = 0; i < (int)count; i++)
        {
            ref uint v = ref _staged[(long)a + i];
            if (version <= v) return Fail($"unit {(long)a + i} version {version} arrived after version {v}");
            v = version;
        }
        _run = new UnitRun((long)a, (int)count, version);
        _dataPos = 0;
        _dataLength = (long)count * _content.UnitSize;
        _phase = Phase.Data;
        return true;
    }

    private bool ParseEnd()
    {
        ReadOnlySpan<byte> p = _head.AsSpan(UnitRunFormat.HeaderBytes);
        ulong digest = BinaryPrimitives.ReadUInt64LittleEndian(p);
        ulong bytesBefore = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]);
        ulong unitSize = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]);
        ulong check = BinaryPrimitives.ReadUInt64LittleEndian(p[24..]);
        if (check != UnitRunFormat.EndCheck(_content.Key, digest, bytesBefore, unitSize))
            return Fail("end record payload check mismatch");
        _phase = Phase.Done;
        int missing = Array.IndexOf(_staged, 0u);
        if (unitSize != (ulong)_content.UnitSize)
            MarkEndMismatch($"source unit size {unitSize}, device {_content.UnitSize}");
        else if (missing >= 0)
            MarkEndMismatch($"unit {missing} never arrived");
        else if (bytesBefore != (ulong)_recordStart)
            MarkEndMismatch($"source sent {bytesBefore} run bytes before its end record, {_recordStart} arrived");
        else if (digest != SimMix.Digest(_content.Key, _staged))
            MarkEndMismatch("rebuilt state digest differs from the source's");
        return true;
    }

    private void MarkEndMismatch(string why)
    {
        EndMismatch = true;
        Problem ??= why;
    }

    private bool Fail(string why)
    {
        Problem ??= why;
        return false;
    }
}
