namespace StreamKit.Device;

/// <summary>
/// Emits the units that need sending as <see cref="UnitRunFormat"/> runs, reading versions live
/// (bulk and hisi). The first pass walks all units in order; units dirtied behind the cursor are
/// sent again on later passes; the end record (state digest) follows once nothing is left and the
/// owner allows it (STOP_COPY).
/// </summary>
internal sealed class LiveRunSource
{
    private readonly DeviceModel _model;
    private readonly RunWriter _writer;
    private readonly UnitBitmap _need;
    private long _cursor;
    private long _frontier;
    private bool _endStarted;

    internal LiveRunSource(DeviceModel model)
    {
        _model = model;
        _writer = new RunWriter(model.Content);
        _need = new UnitBitmap(model.UnitCount, allSet: true);
    }

    /// <summary>The end record has been emitted completely.</summary>
    internal bool Finished => _endStarted && !_writer.Active;

    /// <summary>Units not yet sent in the first pass.</summary>
    internal long InitialUnitsLeft => _model.UnitCount - _frontier;

    /// <summary>Units waiting to be (re)sent.</summary>
    internal long UnitsLeft => _need.SetCount;

    internal void MarkDirty(long unit) => _need.Set(unit);

    /// <summary>Bytes still to come if nothing else changes.</summary>
    internal long RemainingEstimate() =>
        _need.SetCount * _model.Content.UnitSize + (_need.SetCount + UnitRunFormat.MaxUnitsPerRun - 1) / UnitRunFormat.MaxUnitsPerRun * UnitRunFormat.HeaderBytes
        + (_endStarted ? 0 : UnitRunFormat.EndRecordBytes);

    internal static long FullImageBytes(int units, int unitSize) =>
        (long)units * unitSize + (units + UnitRunFormat.MaxUnitsPerRun - 1L) / UnitRunFormat.MaxUnitsPerRun * UnitRunFormat.HeaderBytes
        + UnitRunFormat.EndRecordBytes;

    /// <summary>Fills <paramref name="dest"/> with runs; after the last unit, the end record when <paramref name="allowEnd"/>.</summary>
    internal int Read(Span<byte> dest, bool allowEnd)
    {
        int total = 0;
        while (total < dest.Length)
        {
            if (_writer.Active)
            {
                total += _writer.Emit(dest[total..]);
                continue;
            }
            if (_endStarted) break;
            if (_need.SetCount > 0)
            {
                long first = _need.NextSet(_cursor);
                if (first < 0)
                {
                    _frontier = _model.UnitCount; // wrapped: the first pass is over
                    first = _need.NextSet(0);
                }
                UnitRun run = _need.TakeRun(first, _model.Versions, UnitRunFormat.MaxUnitsPerRun);
                _cursor = first + run.Count;
                if (_frontier < _cursor && _frontier < _model.UnitCount && first <= _frontier) _frontier = _cursor;
                _writer.BeginRun(run);
                continue;
            }
            if (!allowEnd) break;
            _frontier = _model.UnitCount;
            _writer.BeginEnd(_model.UnitCount, _model.Digest(), _writer.BytesEmitted);
            _endStarted = true;
        }
        return total;
    }
}
