namespace StreamKit.Device.Vfio;

/// <summary>
/// The <c>data_fd</c> of one VFIO migration session. Reads go straight into the caller's span
/// (one read(2) per call, no copy, no allocation); writes loop over partial writes.
/// <para>
/// Pre-copy pumping: call <see cref="GetPrecopyInfo"/> between reads. Some drivers (mlx5) queue new
/// dirty data only from inside that ioctl, so a pump that just re-reads after a temporary end may
/// never see more data. mtty returns a 0-byte read (not ENOMSG) once the pre-copy header is read.
/// </para>
/// </summary>
internal sealed unsafe class VfioDataChannel : IMigrationDataChannel
{
    /// <summary><c>struct vfio_precopy_info</c> size.</summary>
    private const int PrecopyInfoSize = 24;

    private readonly FdHandle _fd;
    private readonly VfioDevice? _owner;
    private volatile int _phase;
    private volatile bool _ended;
    private long _position;
    private int _writeFailure; // errno of the first failed write; the session is then unusable
    private DeviceErrorKind _writeFailureKind;

    /// <param name="fd">The data_fd, owned from now on.</param>
    /// <param name="isSaving">True for a saving session (PRE_COPY/STOP_COPY), false for RESUMING.</param>
    /// <param name="phase">The device state the session is in.</param>
    /// <param name="owner">The device, asked for its kernel state when an error needs interpreting; null for bare fds (tests over pipes).</param>
    internal VfioDataChannel(FdHandle fd, bool isSaving, MigrationState phase, VfioDevice? owner)
    {
        _fd = fd;
        IsSaving = isSaving;
        _phase = (int)phase;
        _owner = owner;
    }

    /// <inheritdoc/>
    public bool IsSaving { get; }

    /// <summary>The device state this session is in, as StreamKit last set it (PRE_COPY, STOP_COPY, RESUMING …).</summary>
    internal MigrationState Phase
    {
        get => (MigrationState)_phase;
        set => _phase = (int)value;
    }

    /// <summary>True once the session ended (its state group left, device reset): the kernel disabled the fd.</summary>
    internal bool Ended
    {
        get => _ended;
        set => _ended = value;
    }

    /// <summary>Bytes read or written so far (the stream offset of the next byte).</summary>
    internal long Position => Interlocked.Read(ref _position);

    /// <summary>Errno of the first failed write (0 if none). A resuming session with a failed write must never be committed.</summary>
    internal int WriteFailure => Volatile.Read(ref _writeFailure);

    /// <summary>The fd itself, for lab probes of raw driver behaviour.</summary>
    internal FdHandle Handle => _fd;

    /// <inheritdoc/>
    public DataReadResult Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) throw new ArgumentException("read buffer must not be empty (a 0-byte read means end of data)", nameof(buffer));
        // Sample the phase before the syscall: if STOP_COPY was already set, a 0-byte read is final; if we
        // sampled PRE_COPY and the switch happens during read(), calling it temporary only costs one more read.
        var phaseBefore = Phase;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.Read(_fd, p, (nuint)buffer.Length);
                if (n > 0)
                {
                    Interlocked.Add(ref _position, n);
                    return DataReadResult.Bytes((int)n);
                }
                if (n == 0)
                    return phaseBefore == MigrationState.StopCopy ? DataReadResult.Final : DataReadResult.Temporary;
                int errno = LibC.LastErrno;
                switch (errno)
                {
                    case Errno.EINTR: continue;
                    case Errno.ENOMSG or Errno.EAGAIN: return DataReadResult.Temporary;
                    case Errno.ENODEV:
                        _ended = true;
                        return DataReadResult.Dead;
                    default:
                        throw new DeviceException(DeviceErrorKind.IoFailed,
                            $"read from data_fd failed at stream offset {Position} ({phaseBefore} session)", errno, _owner?.TryGetKernelState());
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data)
    {
        int failed = WriteFailure;
        if (failed != 0)
            throw new DeviceException(_writeFailureKind,
                "an earlier write of this resuming session failed; the device must be reset, not written further", failed);
        fixed (byte* start = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = LibC.Write(_fd, start + done, (nuint)(data.Length - done));
                if (n > 0)
                {
                    done += (int)n;
                    Interlocked.Add(ref _position, n);
                    continue;
                }
                int errno = n == 0 ? 0 : LibC.LastErrno;
                if (errno == Errno.EINTR) continue;
                var state = _owner?.TryGetKernelState();
                var failure = errno switch
                {
                    Errno.EFAULT or Errno.ENOMEM or Errno.EOPNOTSUPP or Errno.EINVAL => new DeviceException(DeviceErrorKind.Incompatible,
                        $"the destination device refused the state at stream offset {Position} (incompatible or malformed state)", errno, state),
                    Errno.ENODEV => new DeviceException(DeviceErrorKind.DeadSession,
                        $"the resuming session is dead at stream offset {Position} (device reset or session ended)", errno, state),
                    0 => new DeviceException(DeviceErrorKind.IoFailed, $"write to data_fd accepted 0 bytes at stream offset {Position}", 0, state),
                    _ => new DeviceException(DeviceErrorKind.IoFailed, $"write to data_fd failed at stream offset {Position}", errno, state),
                };
                _writeFailureKind = failure.Kind;
                Volatile.Write(ref _writeFailure, errno == 0 ? Errno.EIO : errno);
                throw failure;
            }
        }
    }

    /// <summary>
    /// <c>VFIO_MIG_GET_PRECOPY_INFO</c>. Layout of <c>struct vfio_precopy_info</c> (24 bytes):
    /// <code>
    ///   0  u32 argsz          24
    ///   4  u32 flags          0 in; drivers echo it back instead of writing it, so it is always zeroed
    ///   8  u64 initial_bytes  out
    ///  16  u64 dirty_bytes    out
    /// </code>
    /// ENODEV means the session is dead (null). EINVAL means "not in PRE_COPY": if StreamKit set
    /// PRE_COPY and the kernel now says otherwise, the device was reset behind our back (null: dead
    /// session; mtty answers EINVAL, not ENODEV, after a reset); otherwise it is a caller error.
    /// </summary>
    public PrecopyInfo? GetPrecopyInfo()
    {
        Span<byte> info = stackalloc byte[PrecopyInfoSize];
        info.Clear();
        HostOrder.WriteU32(info, 0, PrecopyInfoSize);
        int result;
        fixed (byte* p = info)
            result = LibC.Ioctl(_fd, VfioIoctl.MigGetPrecopyInfo, p);
        if (result == 0) return new PrecopyInfo(HostOrder.ReadU64(info, 8), HostOrder.ReadU64(info, 16));
        int errno = LibC.LastErrno;
        if (errno == Errno.ENODEV)
        {
            _ended = true;
            return null;
        }
        var phase = Phase;
        bool believedPreCopy = phase is MigrationState.PreCopy or MigrationState.PreCopyP2P;
        if (errno == Errno.EINVAL && (_ended || believedPreCopy && _owner?.TryGetKernelState() is { } k && k is not (MigrationState.PreCopy or MigrationState.PreCopyP2P)))
        {
            _ended = true;
            return null;
        }
        throw new DeviceException(DeviceErrorKind.IoFailed, errno == Errno.EINVAL && !believedPreCopy
            ? $"VFIO_MIG_GET_PRECOPY_INFO is valid only in PRE_COPY; this session is in {phase}"
            : $"VFIO_MIG_GET_PRECOPY_INFO failed ({phase} session)", errno, _owner?.TryGetKernelState());
    }

    /// <summary>poll(2) on the data_fd; returns revents (0 on timeout). mtty has no poll op, so it always reports ready.</summary>
    internal short Poll(short events, int timeoutMs)
    {
        var pfd = new LibC.PollFd { Events = events };
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            pfd.Fd = _fd.Fd;
            while (true)
            {
                int n = LibC.Poll(&pfd, 1, timeoutMs);
                if (n >= 0) return n == 0 ? (short)0 : pfd.Revents;
                int errno = LibC.LastErrno;
                if (errno != Errno.EINTR) throw new DeviceException(DeviceErrorKind.IoFailed, "poll on data_fd failed", errno);
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }

    /// <summary>Closes the data_fd. Closing does not change the device state.</summary>
    public void Dispose() => _fd.Dispose();
}
