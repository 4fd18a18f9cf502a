using System.Buffers.Binary;

namespace StreamKit.Device;

/// <summary>
/// hisi_acc-like device: PRE_COPY's stream is only the 32-byte compatibility ("match") data, so an
/// incompatible destination refuses it (EFAULT on the write completing it) while the source VM still
/// runs; 0-byte reads end pre-copy; STOP_COPY appends the device data as <see cref="UnitRunFormat"/>
/// runs and the end record. Match data, little-endian:
/// <code>
/// 0  u32 magic 0x48495341 ("ASIH")
/// 4  u32 match version 1
/// 8  u32 device model (spec key model)
/// 12 u32 reserved 0
/// 16 u64 device data pages
/// 24 u64 content key (seed and profile identity)
/// </code>
/// </summary>
internal sealed class HisiModel(SimulatedDeviceSpec spec)
    : DeviceModel(spec, profileSalt: 0x68697369, SimulatedDeviceSpec.PageBytes, (int)(spec.EffectiveSizeBytes / SimulatedDeviceSpec.PageBytes))
{
    internal const uint Magic = 0x48495341;
    internal const int MatchBytes = 32;

    internal override string DriverHint => "hisi_acc_vfio_pci";

    internal override MigrationFeatures NativeFeatures =>
        MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy;

    internal override long FullImageBytes => MatchBytes + LiveRunSource.FullImageBytes(UnitCount, Content.UnitSize);

    internal override SaveStream OpenSave(bool precopy) => new Save(this);

    internal override LoadStream OpenLoad() => new Load(this);

    private void WriteMatch(Span<byte> m)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(m, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(m[4..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(m[8..], Spec.Model);
        BinaryPrimitives.WriteUInt32LittleEndian(m[12..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(m[16..], (ulong)UnitCount);
        BinaryPrimitives.WriteUInt64LittleEndian(m[24..], Content.Key);
    }

    private sealed class Save : SaveStream
    {
        private readonly HisiModel _model;
        private readonly byte[] _match = new byte[MatchBytes];
        private readonly LiveRunSource _data;

        internal Save(HisiModel model)
        {
            _model = model;
            model.WriteMatch(_match);
            _data = new LiveRunSource(model);
        }

        internal override PrecopyInfo GetPrecopyInfo() => new((ulong)Math.Max(0, MatchBytes - Position), 0);

        internal override long RemainingEstimate() => Math.Max(0, MatchBytes - Position) + _data.RemainingEstimate();

        protected override int ReadCore(Span<byte> dest)
        {
            int n = 0;
            if (Position < MatchBytes)
            {
                n = Math.Min(dest.Length, MatchBytes - (int)Position);
                _match.AsSpan((int)Position, n).CopyTo(dest);
            }
            // Device data only once the device is stopped: it is read whole, with frozen versions.
            if (StopCopy) n += _data.Read(dest[n..], allowEnd: true);
            return n;
        }

        protected override void OnStopCopy() { }
    }

    private sealed class Load : LoadStream
    {
        private readonly HisiModel _model;
        private readonly byte[] _match = new byte[MatchBytes];
        private readonly uint[] _staged;
        private readonly RunReader _reader;

        internal Load(HisiModel model)
        {
            _model = model;
            _staged = new uint[model.UnitCount];
            _reader = new RunReader(model.Content, _staged);
        }

        internal override uint[] StagedVersions => _staged;

        protected override int WriteCore(ReadOnlySpan<byte> src)
        {
            if (Position < MatchBytes)
            {
                int n = (int)Math.Min(src.Length, MatchBytes - Position);
                src[..n].CopyTo(_match.AsSpan((int)Position));
                if (Position + n == MatchBytes)
                {
                    Span<byte> expected = stackalloc byte[MatchBytes];
                    _model.WriteMatch(expected);
                    if (!expected.SequenceEqual(_match))
                        return Reject(Errno.EFAULT, DescribeMismatch(expected));
                }
                src = src[n..];
            }
            return src.IsEmpty || _reader.Feed(src) ? 0 : Reject(Errno.EINVAL, _reader.Problem ?? "malformed device data");
        }

        protected override int ValidateCore() =>
            Position < MatchBytes ? RejectAtCommit($"truncated in the match data ({Position} of {MatchBytes} bytes)")
                : RunLoad.ValidateRuns(_reader, this);

        private string DescribeMismatch(ReadOnlySpan<byte> expected)
        {
            uint model = BinaryPrimitives.ReadUInt32LittleEndian(_match.AsSpan(8));
            ulong pages = BinaryPrimitives.ReadUInt64LittleEndian(_match.AsSpan(16));
            return BinaryPrimitives.ReadUInt32LittleEndian(_match) != Magic ? "match data: bad magic"
                : model != _model.Spec.Model ? $"match data: source device model {model}, this device {_model.Spec.Model}"
                : pages != (ulong)_model.UnitCount ? $"match data: source has {pages} pages, this device {_model.UnitCount}"
                : "match data differs (version, seed or profile)";
        }
    }
}
