using System.Buffers.Binary;

namespace StreamKit.Device;

/// <summary>
/// mlx5-like device. The stream is records, each a 16-byte header then record_size bytes:
/// <code>
/// 0  u64 record_size
/// 8  u32 flags: bit 0 OPTIONAL (unknown optional tags are skipped)
/// 12 u32 tag: 0 FW_DATA (mandatory; payload = <see cref="UnitRunFormat"/> runs), 1 STOP_COPY_SIZE (optional; payload u64)
/// </code>
/// Source, like the driver: PRE_COPY starts with STOP_COPY_SIZE then the initial image (FW_DATA records
/// of at most <see cref="SimulatedDeviceSpec.ChunkBytes"/>, chunk mode); a drained pre-copy stream is a
/// temporary end (ENOMSG); pages dirtied since become a new incremental image ONLY inside the pre-copy
/// info call when the stream is drained (not in PRE_COPY_P2P); STOP_COPY queues the final incremental
/// image and the end record. initial_bytes = unread initial records, dirty_bytes = unread later records
/// plus the dirty pages not yet imaged. Resume parses headers in any segmentation: unknown mandatory
/// tag ⇒ EOPNOTSUPP, record_size above the device maximum ⇒ ENOMEM, a FW_DATA record that fails to
/// load (bad run, content mismatch, cut inside a run) ⇒ EINVAL from the write completing it. (After an
/// error the driver's file is broken and would answer ENODEV, but no further write reaches it: the channel
/// refuses them with the first error, as the real data channel does.) The commit fails EINVAL when the stream
/// stopped inside a record or before the end record (stricter than the driver, whose commit only closes).
/// </summary>
internal sealed class Mlx5Model(SimulatedDeviceSpec spec)
    : DeviceModel(spec, profileSalt: 0x6D6C7835, SimulatedDeviceSpec.PageBytes, (int)(spec.EffectiveSizeBytes / SimulatedDeviceSpec.PageBytes))
{
    internal const int RecordHeaderBytes = 16;
    internal const uint FlagOptional = 1;
    internal const uint TagFwData = 0;
    internal const uint TagStopCopySize = 1;

    internal override string DriverHint => "mlx5_vfio_pci";

    internal override MigrationFeatures NativeFeatures =>
        MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy;

    internal override long FullImageBytes
    {
        get
        {
            long runs = LiveRunSource.FullImageBytes(UnitCount, Content.UnitSize);
            long records = (runs + Spec.ChunkBytes - 1) / Spec.ChunkBytes + 1;
            return runs + records * RecordHeaderBytes;
        }
    }

    /// <summary>The STOP_COPY_SIZE value a source announces: the full image's run bytes (independent of chunking).</summary>
    internal ulong AnnouncedStopCopySize => (ulong)LiveRunSource.FullImageBytes(UnitCount, Content.UnitSize);

    internal override SaveStream OpenSave(bool precopy) => new Save(this, precopy);

    internal override LoadStream OpenLoad() => new Load(this);

    internal static void WriteRecordHeader(Span<byte> h, ulong size, uint flags, uint tag)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(h, size);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], tag);
    }

    /// <summary>One queued record: a STOP_COPY_SIZE value, FW_DATA runs (snapshotted at save time), or FW_DATA holding the end record.</summary>
    private sealed class Record
    {
        internal required bool Initial;
        internal ulong? StopCopySize;
        internal List<UnitRun>? Runs;
        internal bool End;
        internal long PayloadBytes;
    }

    private sealed class Save : SaveStream
    {
        private readonly Mlx5Model _model;
        private readonly Queue<Record> _queue = new();
        private readonly UnitBitmap _dirty;
        private readonly RunWriter _writer;
        private readonly byte[] _small = new byte[RecordHeaderBytes + 8];
        private readonly int _maxRunUnits;
        private Record? _current;
        private long _currentPos;   // within header + payload
        private int _runIndex;
        private long _initialUnread;
        private long _laterUnread;

        internal Save(Mlx5Model model, bool precopy)
        {
            _model = model;
            _writer = new RunWriter(model.Content);
            _dirty = new UnitBitmap(model.UnitCount, allSet: false);
            _maxRunUnits = (int)Math.Clamp((model.Spec.ChunkBytes - UnitRunFormat.HeaderBytes) / model.Content.UnitSize, 1, UnitRunFormat.MaxUnitsPerRun);
            if (precopy)
                Enqueue(new Record { Initial = true, StopCopySize = model.AnnouncedStopCopySize, PayloadBytes = 8 });
            EnqueueImage(allUnits: true, initial: precopy);
        }

        internal override PrecopyInfo GetPrecopyInfo()
        {
            // The driver's side effect: a drained stream plus new dirty state ⇒ save the next incremental image now.
            if (!P2P && _current is null && _queue.Count == 0 && _dirty.SetCount > 0)
                EnqueueImage(allUnits: false, initial: false);
            return new PrecopyInfo((ulong)_initialUnread, (ulong)(_laterUnread + _dirty.SetCount * _model.Content.UnitSize));
        }

        internal override void OnUnitDirtied(long unit) => _dirty.Set(unit);

        internal override long RemainingEstimate() =>
            _initialUnread + _laterUnread + _dirty.SetCount * (_model.Content.UnitSize + 1) + UnitRunFormat.EndRecordBytes + 2 * RecordHeaderBytes;

        protected override void OnStopCopy()
        {
            if (_dirty.SetCount > 0) EnqueueImage(allUnits: false, initial: false);
            Enqueue(new Record { Initial = false, End = true, PayloadBytes = UnitRunFormat.EndRecordBytes });
        }

        protected override int ReadCore(Span<byte> dest)
        {
            int total = 0;
            while (total < dest.Length)
            {
                if (_current is null)
                {
                    if (!_queue.TryDequeue(out _current)) break;
                    _currentPos = 0;
                    _runIndex = 0;
                    WriteRecordHeader(_small, (ulong)_current.PayloadBytes,
                        _current.StopCopySize is null ? 0 : FlagOptional,
                        _current.StopCopySize is null ? TagFwData : TagStopCopySize);
                    if (_current.StopCopySize is { } size) BinaryPrimitives.WriteUInt64LittleEndian(_small.AsSpan(RecordHeaderBytes), size);
                }
                int n = EmitFromCurrent(dest[total..]);
                if (_current.Initial) _initialUnread -= n; else _laterUnread -= n;
                total += n;
                if (_currentPos == RecordHeaderBytes + _current.PayloadBytes) _current = null;
            }
            return total;
        }

        private int EmitFromCurrent(Span<byte> dest)
        {
            Record r = _current!;
            int written = 0;
            int smallLength = RecordHeaderBytes + (r.StopCopySize is null ? 0 : 8);
            if (_currentPos < smallLength)
            {
                written = Math.Min(dest.Length, smallLength - (int)_currentPos);
                _small.AsSpan((int)_currentPos, written).CopyTo(dest);
                _currentPos += written;
            }
            while (written < dest.Length && _currentPos < RecordHeaderBytes + r.PayloadBytes)
            {
                if (!_writer.Active)
                {
                    if (r.End) _writer.BeginEnd(_model.UnitCount, _model.Digest(), _writer.BytesEmitted);
                    else _writer.BeginRun(r.Runs![_runIndex++]);
                }
                int n = _writer.Emit(dest[written..]);
                written += n;
                _currentPos += n;
            }
            return written;
        }

        /// <summary>Snapshots units (all, or the dirty ones) into FW_DATA records of at most ChunkBytes payload.</summary>
        private void EnqueueImage(bool allUnits, bool initial)
        {
            var source = allUnits ? new UnitBitmap(_model.UnitCount, allSet: true) : _dirty;
            Record? rec = null;
            long at = 0;
            while (source.SetCount > 0)
            {
                long first = source.NextSet(at);
                UnitRun run = source.TakeRun(first, _model.Versions, _maxRunUnits);
                at = first + run.Count;
                long bytes = UnitRunFormat.RunBytes(run.Count, _model.Content.UnitSize);
                if (rec is not null && rec.PayloadBytes + bytes > _model.Spec.ChunkBytes)
                {
                    Enqueue(rec);
                    rec = null;
                }
                rec ??= new Record { Initial = initial, Runs = [] };
                rec.Runs!.Add(run);
                rec.PayloadBytes += bytes;
            }
            if (rec is not null) Enqueue(rec);
        }

        private void Enqueue(Record r)
        {
            _queue.Enqueue(r);
            if (r.Initial) _initialUnread += RecordHeaderBytes + r.PayloadBytes;
            else _laterUnread += RecordHeaderBytes + r.PayloadBytes;
        }
    }

    private sealed class Load : LoadStream
    {
        private enum Phase { Header, FwData, StopCopySize, Skip }

        private readonly Mlx5Model _model;
        private readonly byte[] _header = new byte[RecordHeaderBytes + 8];
        private readonly uint[] _staged;
        private readonly RunReader _reader;
        private Phase _phase;
        private int _fill;
        private ulong _remaining;
        private string? _deviation;

        internal Load(Mlx5Model model)
        {
            _model = model;
            _staged = new uint[model.UnitCount];
            _reader = new RunReader(model.Content, _staged);
        }

        internal override uint[] StagedVersions => _staged;

        /// <summary>The STOP_COPY_SIZE the source announced, if it did.</summary>
        internal ulong? AnnouncedStopCopySize { get; private set; }

        protected override int WriteCore(ReadOnlySpan<byte> src)
        {
            while (!src.IsEmpty)
            {
                int n;
                switch (_phase)
                {
                    case Phase.Header:
                        n = Math.Min(RecordHeaderBytes - _fill, src.Length);
                        src[..n].CopyTo(_header.AsSpan(_fill));
                        _fill += n;
                        if (_fill == RecordHeaderBytes && StartRecord() is var e and not 0) return e;
                        break;
                    case Phase.StopCopySize:
                        n = (int)Math.Min(_remaining, (ulong)src.Length);
                        src[..n].CopyTo(_header.AsSpan(RecordHeaderBytes + 8 - (int)_remaining));
                        _remaining -= (ulong)n;
                        if (_remaining == 0)
                        {
                            AnnouncedStopCopySize = BinaryPrimitives.ReadUInt64LittleEndian(_header.AsSpan(RecordHeaderBytes));
                            if (AnnouncedStopCopySize != _model.AnnouncedStopCopySize)
                                Deviate($"STOP_COPY_SIZE {AnnouncedStopCopySize}, a correct source announces {_model.AnnouncedStopCopySize}");
                            NextRecord();
                        }
                        break;
                    case Phase.Skip:
                        n = (int)Math.Min(_remaining, (ulong)src.Length);
                        _remaining -= (ulong)n;
                        if (_remaining == 0) NextRecord();
                        break;
                    default:
                        n = (int)Math.Min(_remaining, (ulong)src.Length);
                        if (!_reader.Feed(src[..n])) return Reject(Errno.EINVAL, "FW_DATA load failed: " + _reader.Problem);
                        _remaining -= (ulong)n;
                        if (_remaining == 0)
                        {
                            // The driver loads each complete FW_DATA record here; a bad image fails this write.
                            if (!_reader.AtBoundary) return Reject(Errno.EINVAL, "FW_DATA load failed: record ends inside a run");
                            if (_reader.ContentMismatch || _reader.EndMismatch) return Reject(Errno.EINVAL, "FW_DATA load failed: " + _reader.Problem);
                            NextRecord();
                        }
                        break;
                }
                src = src[n..];
            }
            return 0;
        }

        protected override int ValidateCore()
        {
            if (_phase != Phase.Header || _fill != 0)
                return RejectAtCommit($"truncated inside a record after {Position} bytes");
            if (_deviation is not null) return RejectAtCommit(_deviation);
            return RunLoad.ValidateRuns(_reader, this);
        }

        /// <summary>
        /// Something the driver tolerates but a correct source of this profile never sends (flags on
        /// FW_DATA, an unknown optional record, a different STOP_COPY_SIZE): accepted at write time like
        /// the driver, refused at commit because the simulator verifies the exact stream.
        /// </summary>
        private void Deviate(string why) => _deviation ??= why + $" (at stream byte {Position})";

        private int StartRecord()
        {
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(_header);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(8));
            uint tag = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(12));
            _remaining = size;
            switch (tag)
            {
                case TagFwData:
                    if (size > (ulong)_model.Spec.MaxRecordBytes)
                        return Reject(Errno.ENOMEM, $"record_size {size} above the device maximum {_model.Spec.MaxRecordBytes}");
                    if (size == 0) return Reject(Errno.EINVAL, "empty FW_DATA record");
                    if (flags != 0) Deviate($"FW_DATA record with flags 0x{flags:x}");
                    _phase = Phase.FwData;
                    return 0;
                case TagStopCopySize:
                    if (size != 8) return Reject(Errno.EINVAL, $"STOP_COPY_SIZE record of {size} bytes (expected 8)");
                    if (flags != FlagOptional) Deviate($"STOP_COPY_SIZE record with flags 0x{flags:x}");
                    _phase = Phase.StopCopySize;
                    return 0;
                default:
                    if ((flags & FlagOptional) == 0) return Reject(Errno.EOPNOTSUPP, $"unknown mandatory record tag {tag}");
                    Deviate($"unknown optional record tag {tag} (skipped)");
                    _phase = Phase.Skip;
                    if (size == 0) NextRecord();
                    return 0;
            }
        }

        private void NextRecord()
        {
            _phase = Phase.Header;
            _fill = 0;
        }
    }
}
