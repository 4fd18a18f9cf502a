using StreamKit.Device.Vfio;

namespace StreamKit.Device;

/// <summary>
/// The one migration data channel over a file descriptor: the <c>data_fd</c> of a <see cref="VfioDevice"/>
/// session (<see cref="ForVfioSession"/>), or any fd a VMM hands over, e.g. a pipe passed with SCM_RIGHTS
/// (<see cref="ForFd"/>, behind the public <see cref="FdDataChannels"/>). Maps the kernel's results onto
/// the channel contract:
/// <list type="bullet">
/// <item>read: one read(2) straight into the caller's span (no copy, no allocation); bytes → Data;
/// 0 → FinalEnd when the session was already in STOP_COPY before the call, else TemporaryEnd; EAGAIN and
/// ENOMSG → TemporaryEnd; ENODEV → DeadSession (the session is marked ended); EINTR → retry; anything
/// else → <see cref="DeviceException"/> with the errno, the stream offset and the owner's state.</item>
/// <item>write: loops over partial writes, retries EINTR, waits in poll() on EAGAIN (O_NONBLOCK fds). The
/// first error is thrown and poisons the channel: later writes are refused without reaching the fd,
/// because a driver may have counted the refused bytes (mtty does) and the session cannot continue.</item>
/// <item>precopy info: <c>VFIO_MIG_GET_PRECOPY_INFO</c>. ENOTTY (a pipe, a resuming data_fd) →
/// <see cref="PrecopyInfo.Unavailable"/>, remembered; ENODEV → null (dead). EINVAL → null when the session
/// ended or the device left PRE_COPY behind our back (mtty answers EINVAL, not ENODEV, after a reset);
/// otherwise a typed error (the caller asked outside PRE_COPY).</item>
/// </list>
/// Pre-copy pumping: call <see cref="GetPrecopyInfo"/> between reads. Some drivers (mlx5) queue new dirty
/// data only from inside that ioctl, so a pump that just re-reads after a temporary end may never see more.
/// The fd is a ref-counted <see cref="SafeFdHandle"/>: Dispose never closes it under an I/O call in flight.
/// </summary>
internal sealed unsafe class FdDataChannel : IMigrationDataChannel
{
    private readonly SafeFdHandle _fd;
    private readonly Func<bool>? _inStopCopy;
    private readonly Func<MigrationState?>? _ownerState;
    private readonly bool _phaseTracked;
    private volatile int _phase;
    private volatile bool _ended;
    private volatile bool _noPrecopyIoctl;
    private long _position;
    private int _writeFailure; // errno of the first failed write; the session is then unusable
    private DeviceErrorKind _writeFailureKind;

    private FdDataChannel(SafeFdHandle fd, bool isSaving, MigrationState phase, bool phaseTracked,
        Func<bool>? inStopCopy, Func<MigrationState?>? ownerState)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (fd.IsInvalid) throw new ArgumentOutOfRangeException(nameof(fd), "invalid file descriptor");
        _fd = fd;
        IsSaving = isSaving;
        _phase = (int)phase;
        _phaseTracked = phaseTracked;
        _inStopCopy = inStopCopy;
        _ownerState = ownerState;
    }

    /// <summary>
    /// The data_fd of a VFIO session. The device keeps <see cref="Phase"/> in step with the states it sets;
    /// a 0-byte read is final when the phase sampled before the read was STOP_COPY.
    /// </summary>
    /// <param name="fd">The data_fd, owned from now on.</param>
    /// <param name="phase">The state the session opened in: PRE_COPY(_P2P) or STOP_COPY (saving), RESUMING.</param>
    /// <param name="ownerState">Reads the device's kernel state (null if unreadable), for interpreting EINVAL and for error reports; null for a bare fd.</param>
    internal static FdDataChannel ForVfioSession(SafeFdHandle fd, MigrationState phase, Func<MigrationState?>? ownerState) =>
        new(fd, isSaving: phase != MigrationState.Resuming, phase, phaseTracked: true, inStopCopy: null, ownerState);

    /// <summary>A channel over an fd whose session state only its owner (a VMM) knows.</summary>
    /// <param name="fd">The descriptor; closed on Dispose per its handle's ownership.</param>
    /// <param name="isSaving">True for a saving (read) channel.</param>
    /// <param name="inStopCopy">Saving channels: sampled before every read; true once the session is in STOP_COPY (a 0-byte
    /// read is then the final end), false in PRE_COPY (a temporary end). Ignored for resuming channels.</param>
    internal static FdDataChannel ForFd(SafeFdHandle fd, bool isSaving, Func<bool>? inStopCopy)
    {
        if (isSaving) ArgumentNullException.ThrowIfNull(inStopCopy);
        return new(fd, isSaving, isSaving ? MigrationState.PreCopy : MigrationState.Resuming, phaseTracked: false,
            isSaving ? inStopCopy : null, ownerState: null);
    }

    /// <inheritdoc/>
    public bool IsSaving { get; }

    /// <summary>The device state this VFIO session is in, as StreamKit last set it (PRE_COPY, STOP_COPY, RESUMING …).</summary>
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
    internal SafeFdHandle Handle => _fd;

    /// <summary>write() calls that accepted fewer bytes than asked (diagnostics for tests and stats).</summary>
    internal long PartialWrites { get; private set; }

    /// <summary>Times a write waited in poll() for the fd to become writable after EAGAIN.</summary>
    internal long WriteWaits { get; private set; }

    /// <inheritdoc/>
    public DataReadResult Read(Span<byte> buffer)
    {
        // A 0-byte request would come back as 0 and be mistaken for an end of data.
        if (buffer.IsEmpty) throw new ArgumentException("read buffer must not be empty (a 0-byte read means end of data)", nameof(buffer));
        // Sample the phase before the syscall: if STOP_COPY was already set, a 0-byte read is final; if we
        // sampled PRE_COPY and the switch happens during read(), calling it temporary only costs one more read.
        // (Asking after the read could call a drained PRE_COPY final and lose the whole STOP_COPY data.)
        bool zeroIsFinal = _inStopCopy?.Invoke() ?? Phase == MigrationState.StopCopy;
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
                if (n == 0) return zeroIsFinal ? DataReadResult.Final : DataReadResult.Temporary;
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
                            $"read() on data_fd {_fd.Fd} failed at stream offset {Position} ({Session})", errno, _ownerState?.Invoke());
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
                $"an earlier write of this resuming session failed (data_fd {_fd.Fd}); the device must be reset, not written further",
                failed, _ownerState?.Invoke());
        fixed (byte* start = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                int remaining = data.Length - done;
                nint n = LibC.Write(_fd, start + done, (nuint)remaining);
                if (n > 0)
                {
                    if (n < remaining) PartialWrites++;
                    done += (int)n;
                    Interlocked.Add(ref _position, n);
                    continue;
                }
                int errno = n == 0 ? 0 : LibC.LastErrno; // 0: no progress for > 0 bytes, never spin on it
                if (errno == Errno.EINTR) continue;
                if (errno == Errno.EAGAIN)
                {
                    WriteWaits++;
                    // Errors and hang-ups show in revents; the next write() reports them with their errno.
                    errno = PollOnce(LibC.POLLOUT, -1, out _);
                    if (errno == 0) continue;
                }
                throw PoisonWrites(errno);
            }
        }
    }

    /// <summary>ENODEV: session gone; the compatibility errnos drivers use on write: incompatible; else I/O.</summary>
    internal static DeviceErrorKind KindOfWriteError(int errno) => errno switch
    {
        Errno.ENODEV => DeviceErrorKind.DeadSession,
        Errno.EFAULT or Errno.ENOMEM or Errno.EOPNOTSUPP or Errno.EINVAL => DeviceErrorKind.Incompatible,
        _ => DeviceErrorKind.IoFailed,
    };

    /// <inheritdoc/>
    public PrecopyInfo? GetPrecopyInfo()
    {
        if (_noPrecopyIoctl) return PrecopyInfo.Unavailable;
        while (true)
        {
            int errno = VfioPrecopyInfo.Query(_fd, out var info);
            switch (errno)
            {
                case 0: return info;
                case Errno.EINTR: continue;
                case Errno.ENOTTY:
                    _noPrecopyIoctl = true;
                    return PrecopyInfo.Unavailable;
                case Errno.ENODEV:
                    _ended = true;
                    return null;
            }
            // EINVAL means "not in PRE_COPY": if StreamKit set PRE_COPY and the kernel now says otherwise,
            // the device was reset behind our back (dead session); otherwise it is a caller error.
            var phase = Phase;
            bool believedPreCopy = _phaseTracked && IsPreCopy(phase);
            var kernel = _ownerState?.Invoke();
            if (errno == Errno.EINVAL && (_ended || believedPreCopy && kernel is { } k && !IsPreCopy(k)))
            {
                _ended = true;
                return null;
            }
            throw new DeviceException(DeviceErrorKind.IoFailed, errno == Errno.EINVAL && _phaseTracked && !believedPreCopy
                ? $"VFIO_MIG_GET_PRECOPY_INFO is valid only in PRE_COPY; this session is in {phase}"
                : $"VFIO_MIG_GET_PRECOPY_INFO on data_fd {_fd.Fd} failed ({Session})", errno, kernel);
        }
    }

    /// <summary>poll(2) on the data_fd; returns revents (0 on timeout). mtty has no poll op, so it always reports ready.</summary>
    internal short Poll(short events, int timeoutMs)
    {
        int errno = PollOnce(events, timeoutMs, out short revents);
        return errno == 0 ? revents : throw new DeviceException(DeviceErrorKind.IoFailed, $"poll on data_fd {_fd.Fd} failed", errno);
    }

    /// <summary>Closes the fd (if owned). Closing a data_fd does not change the device state.</summary>
    public void Dispose() => _fd.Dispose();

    private string Session => _phaseTracked ? $"{Phase} session" : IsSaving ? "saving channel" : "resuming channel";

    private static bool IsPreCopy(MigrationState state) => state is MigrationState.PreCopy or MigrationState.PreCopyP2P;

    /// <summary>Records the first write failure (later writes are refused) and builds its exception.</summary>
    private DeviceException PoisonWrites(int errno)
    {
        var state = _ownerState?.Invoke();
        long at = Position;
        var kind = errno == 0 ? DeviceErrorKind.IoFailed : KindOfWriteError(errno);
        string message = kind switch
        {
            DeviceErrorKind.Incompatible => $"the destination refused the state at stream offset {at} (incompatible or malformed state)",
            DeviceErrorKind.DeadSession => $"the resuming session is dead at stream offset {at} (device reset or session ended)",
            _ when errno == 0 => $"write() on data_fd {_fd.Fd} accepted 0 bytes at stream offset {at}",
            _ => $"write() on data_fd {_fd.Fd} failed at stream offset {at}",
        };
        _writeFailureKind = kind;
        Volatile.Write(ref _writeFailure, errno == 0 ? Errno.EIO : errno);
        return new DeviceException(kind, message, errno, state);
    }

    /// <summary>One poll(2) on the fd, retrying EINTR; 0 or the errno.</summary>
    private int PollOnce(short events, int timeoutMs, out short revents)
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            var pfd = new LibC.PollFd { Fd = _fd.Fd, Events = events };
            while (true)
            {
                int n = LibC.Poll(&pfd, 1, timeoutMs);
                if (n >= 0)
                {
                    revents = n == 0 ? (short)0 : pfd.Revents;
                    return 0;
                }
                int errno = LibC.LastErrno;
                if (errno != Errno.EINTR)
                {
                    revents = 0;
                    return errno;
                }
            }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }
}
