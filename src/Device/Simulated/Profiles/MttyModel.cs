using System.Buffers.Binary;

namespace StreamKit.Device;

/// <summary>
/// mtty-like device (samples/vfio-mdev/mtty.c). Image, host-native (little-endian here):
/// <code>
/// 0  u64 magic 0x7e9d09898c3e2c4e
/// 8  u32 major_ver 1
/// 12 u32 minor_ver 0
/// 16 u32 nr_ports (1 or 2; must equal the destination's)
/// 20 u32 flags 0
/// 24 ports[nr_ports], 36 bytes each: 0 u32 register-state version | 4 32 bytes of register/FIFO content
/// </code>
/// Like the driver: PRE_COPY's stream is the header only, then 0-byte reads; entering STOP_COPY appends
/// the ports to the same stream; MIG_DATA_SIZE is always the full image. Resume: a write past the
/// destination's image fails ENOMEM; the write completing the header fails EFAULT on a bad magic,
/// version, flags or nr_ports; RESUMING → STOP with a short image fails EINVAL and the device stays
/// RESUMING. Stricter than the driver (which loads corrupt port bytes silently): the commit also
/// fails EINVAL when a port's bytes are not what a correct source with this seed produces.
/// </summary>
internal sealed class MttyModel : DeviceModel
{
    internal const ulong Magic = 0x7e9d09898c3e2c4e;
    internal const int HeaderBytes = 24;
    internal const int PortBytes = 36;
    private const int PortContentBytes = 32;

    internal MttyModel(SimulatedDeviceSpec spec) : base(spec, profileSalt: 0x6D747479, PortContentBytes, spec.Ports) { }

    internal override string DriverHint => "mtty";

    internal override MigrationFeatures NativeFeatures =>
        MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy;

    internal override long FullImageBytes => HeaderBytes + PortBytes * UnitCount;

    // mtty reports its full image size in every state.
    internal override long StopCopyEstimate() => FullImageBytes;

    internal override SaveStream OpenSave(bool precopy) => new Save(this, precopy);

    internal override LoadStream OpenLoad() => new Load(this);

    internal static void WriteHeader(Span<byte> h, int ports)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(h, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)ports);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 0);
    }

    private sealed class Save : SaveStream
    {
        private readonly MttyModel _model;
        private readonly byte[] _image;
        private int _filled;

        internal Save(MttyModel model, bool precopy)
        {
            _model = model;
            _image = new byte[model.FullImageBytes];
            WriteHeader(_image, model.UnitCount);
            _filled = HeaderBytes;
            if (!precopy) AppendPorts();
        }

        internal override PrecopyInfo GetPrecopyInfo() =>
            new((ulong)Math.Max(0, HeaderBytes - Position), 0);

        internal override long RemainingEstimate() => _model.FullImageBytes;

        protected override int ReadCore(Span<byte> dest)
        {
            int n = Math.Min(dest.Length, _filled - (int)Position);
            _image.AsSpan((int)Position, n).CopyTo(dest);
            return n;
        }

        protected override void OnStopCopy()
        {
            if (_filled == HeaderBytes) AppendPorts();
        }

        private void AppendPorts()
        {
            for (int p = 0; p < _model.UnitCount; p++)
            {
                Span<byte> port = _image.AsSpan(HeaderBytes + p * PortBytes, PortBytes);
                uint version = _model.Versions[p];
                BinaryPrimitives.WriteUInt32LittleEndian(port, version);
                _model.Content.Fill(p, version, 0, port[4..]);
            }
            _filled = _image.Length;
        }
    }

    private sealed class Load(MttyModel model) : LoadStream
    {
        private readonly byte[] _image = new byte[model.FullImageBytes];
        private readonly uint[] _staged = new uint[model.UnitCount];

        internal override uint[] StagedVersions => _staged;

        protected override int WriteCore(ReadOnlySpan<byte> src)
        {
            long end = Position + src.Length;
            if (end > _image.Length)
                return Reject(Errno.ENOMEM, $"write to bytes {Position}..{end} goes past the {_image.Length}-byte image of a {model.UnitCount}-port device");
            src.CopyTo(_image.AsSpan((int)Position));
            if (Position < HeaderBytes && end >= HeaderBytes) return CheckHeader();
            return 0;
        }

        protected override int ValidateCore()
        {
            if (Position < _image.Length)
                return Reject(Errno.EINVAL, $"incomplete image: {Position} of {_image.Length} bytes");
            for (int p = 0; p < _staged.Length; p++)
            {
                ReadOnlySpan<byte> port = _image.AsSpan(HeaderBytes + p * PortBytes, PortBytes);
                uint version = BinaryPrimitives.ReadUInt32LittleEndian(port);
                if (!model.Content.Matches(p, version, 0, port[4..]))
                    return Reject(Errno.EINVAL, $"port {p} (version {version}) bytes differ from the source's");
                _staged[p] = version;
            }
            return 0;
        }

        private int CheckHeader()
        {
            ReadOnlySpan<byte> h = _image;
            ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(h);
            uint major = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
            uint minor = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
            uint ports = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            if (magic != Magic || major != 1 || minor != 0 || flags != 0)
                return Reject(Errno.EFAULT, $"bad mtty header: magic 0x{magic:x16} version {major}.{minor} flags {flags}");
            if (ports != (uint)model.UnitCount)
                return Reject(Errno.EFAULT, $"source has {ports} ports, this device {model.UnitCount}");
            return 0;
        }
    }
}
