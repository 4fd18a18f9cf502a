namespace StreamKit.Device;

/// <summary>
/// Serialises one run record (or the end record) into caller buffers, a slice at a time; unit
/// content is generated straight into the destination. Counts every byte it emits so the end
/// record can state how many run bytes preceded it.
/// </summary>
internal sealed class RunWriter(ContentGenerator content)
{
    private readonly byte[] _head = new byte[UnitRunFormat.EndRecordBytes];
    private int _headLength;
    private UnitRun _run;
    private long _length;
    private long _pos;

    /// <summary>True while a record is partly emitted.</summary>
    internal bool Active => _pos < _length;

    /// <summary>Run bytes emitted so far (all records, this writer's lifetime).</summary>
    internal long BytesEmitted { get; private set; }

    internal void BeginRun(UnitRun run)
    {
        UnitRunFormat.WriteUnitsHeader(_head, content.Key, run.First, run.Count, run.Version);
        _headLength = UnitRunFormat.HeaderBytes;
        _run = run;
        _length = UnitRunFormat.RunBytes(run.Count, content.UnitSize);
        _pos = 0;
    }

    /// <summary>Starts the end record; <paramref name="bytesBefore"/> is normally <see cref="BytesEmitted"/>.</summary>
    internal void BeginEnd(long unitCount, ulong digest, long bytesBefore)
    {
        UnitRunFormat.WriteEndRecord(_head, content.Key, unitCount, digest, bytesBefore, content.UnitSize);
        _headLength = UnitRunFormat.EndRecordBytes;
        _run = default;
        _length = _headLength;
        _pos = 0;
    }

    /// <summary>Emits up to <paramref name="dest"/>.Length bytes of the current record.</summary>
    internal int Emit(Span<byte> dest)
    {
        int written = 0;
        int unitSize = content.UnitSize;
        while (written < dest.Length && _pos < _length)
        {
            Span<byte> d = dest[written..];
            int n;
            if (_pos < _headLength)
            {
                n = Math.Min(_headLength - (int)_pos, d.Length);
                _head.AsSpan((int)_pos, n).CopyTo(d);
            }
            else
            {
                long dataPos = _pos - _headLength;
                int unit = (int)(dataPos / unitSize);
                int offset = (int)(dataPos - (long)unit * unitSize);
                n = Math.Min(unitSize - offset, d.Length);
                content.Fill(_run.First + unit, _run.Version, offset, d[..n]);
            }
            written += n;
            _pos += n;
        }
        BytesEmitted += written;
        return written;
    }
}
