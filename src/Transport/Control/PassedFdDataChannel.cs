using System.Runtime.InteropServices;
using StreamKit.Device;
using StreamKit.Transport.Native;

namespace StreamKit.Transport.Control;

/// <summary>
/// <see cref="IMigrationDataChannel"/> over a data_fd the VMM passed in: plain read()/write() on
/// StreamKit's copy of the fd. The phase (PRE_COPY or STOP_COPY) is told by the VMM, not read from
/// the device, and decides what a 0-byte read means. The VMM can kill the channel (discard, reset):
/// from then on reads report a dead session and writes fail, even if the fd itself still works,
/// so no byte of a superseded session is ever taken for the new one.
/// (Overlaps the general fd channel under src/Device; see the note in spec/control-protocol.md §11.)
/// </summary>
internal sealed unsafe class PassedFdDataChannel : IMigrationDataChannel
{
    private const int PollSliceMilliseconds = 100;

    private readonly PassedFd _fd;
    private readonly IChannelOwner? _owner;
    private volatile bool _stopCopy;
    private volatile bool _dead;
    private volatile bool _ioctlUnsupported;
    private long _precopyBytes, _stopCopyBytes, _writtenBytes;

    /// <summary>Callbacks into the device that owns the channel.</summary>
    internal interface IChannelOwner
    {
        /// <summary>A read hit ENODEV.</summary>
        void OnDeadSession(PassedFdDataChannel channel);
        /// <summary>A STOP_COPY read returned 0: the saving session delivered everything.</summary>
        void OnFinalEnd(PassedFdDataChannel channel);
        /// <summary>The VMM's latest precopy-info hint, for fds without the ioctl; null if none.</summary>
        PrecopyInfo? PrecopyHint { get; }
        /// <summary>True when waits and retries must stop (migration aborted).</summary>
        bool IsAborted { get; }
    }

    /// <summary>Wraps <paramref name="fd"/> (claimed; disposed with the channel).</summary>
    /// <param name="fd">StreamKit's copy of the data_fd.</param>
    /// <param name="saving">True for a source (read) session, false for a resuming (write) session.</param>
    /// <param name="stopCopy">Saving only: the session is already in STOP_COPY.</param>
    /// <param name="precopyIoctl">Saving only: StreamKit may call VFIO_MIG_GET_PRECOPY_INFO on the fd.</param>
    /// <param name="owner">The device to notify, or null.</param>
    internal PassedFdDataChannel(PassedFd fd, bool saving, bool stopCopy, bool precopyIoctl, IChannelOwner? owner)
    {
        _fd = fd;
        IsSaving = saving;
        _stopCopy = stopCopy;
        _ioctlUnsupported = !precopyIoctl;
        _owner = owner;
    }

    /// <inheritdoc/>
    public bool IsSaving { get; }

    /// <summary>True once the VMM said the device is in STOP_COPY.</summary>
    internal bool InStopCopy => _stopCopy;

    /// <summary>True once the session is known dead (ENODEV, discard, reset).</summary>
    internal bool IsDead => _dead;

    /// <summary>Bytes read while in PRE_COPY.</summary>
    internal ulong PrecopyBytes => (ulong)Interlocked.Read(ref _precopyBytes);

    /// <summary>Bytes read while in STOP_COPY.</summary>
    internal ulong StopCopyBytes => (ulong)Interlocked.Read(ref _stopCopyBytes);

    /// <summary>Bytes written (resuming sessions).</summary>
    internal ulong WrittenBytes => (ulong)Interlocked.Read(ref _writtenBytes);

    /// <summary>The VMM moved the device PRE_COPY → STOP_COPY: from now on a 0-byte read is the final end.</summary>
    internal void EnterStopCopy() => _stopCopy = true;

    /// <summary>The session ended outside StreamKit (discard, reset): every later call reports it dead.</summary>
    internal void MarkDead() => _dead = true;

    /// <inheritdoc/>
    public DataReadResult Read(Span<byte> buffer)
    {
        if (!IsSaving) throw new DeviceException(DeviceErrorKind.IoFailed, "read on a resuming data channel", Errno.EBADF);
        if (buffer.IsEmpty) throw new ArgumentException("empty read buffer", nameof(buffer));
        while (true)
        {
            if (_dead) return DataReadResult.Dead;
            bool stopCopy = _stopCopy; // sampled before the read: a 0 then counts for the phase we were in
            int fd = AcquireFd();
            if (fd < 0) return DataReadResult.Dead;
            nint n;
            int errno = 0;
            try
            {
                fixed (byte* p = buffer) n = LibC.Read(fd, p, (nuint)buffer.Length);
                if (n < 0) errno = Marshal.GetLastPInvokeError();
            }
            finally
            {
                _fd.DangerousRelease();
            }
            if (n > 0)
            {
                if (_dead) return DataReadResult.Dead; // killed while we were reading: the bytes belong to a dropped epoch
                Interlocked.Add(ref stopCopy ? ref _stopCopyBytes : ref _precopyBytes, n);
                return DataReadResult.Bytes((int)n);
            }
            if (n == 0)
            {
                if (!stopCopy) return DataReadResult.Temporary;
                _owner?.OnFinalEnd(this);
                return DataReadResult.Final;
            }
            switch (errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.ENODEV:
                    _dead = true;
                    _owner?.OnDeadSession(this);
                    return DataReadResult.Dead;
                case Errno.ENOMSG when !stopCopy:
                    return DataReadResult.Temporary;
                case Errno.EAGAIN when !stopCopy:
                    return DataReadResult.Temporary;
                case Errno.EAGAIN:
                    // O_NONBLOCK fd in STOP_COPY (the flag is shared with the VMM's copy): wait for data.
                    WaitReady(LibC.POLLIN);
                    continue;
                default:
                    throw new DeviceException(DeviceErrorKind.IoFailed, $"read on data_fd {_fd.Fd} failed", errno);
            }
        }
    }

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (IsSaving) throw new DeviceException(DeviceErrorKind.IoFailed, "write on a saving data channel", Errno.EBADF);
        while (!data.IsEmpty)
        {
            if (_dead) throw new DeviceException(DeviceErrorKind.DeadSession, "the resuming session was ended (device reset)", Errno.ENODEV);
            int fd = AcquireFd();
            if (fd < 0) throw new DeviceException(DeviceErrorKind.DeadSession, "the data channel was closed", Errno.EBADF);
            nint n;
            int errno = 0;
            try
            {
                fixed (byte* p = data) n = LibC.Write(fd, p, (nuint)data.Length);
                if (n < 0) errno = Marshal.GetLastPInvokeError();
            }
            finally
            {
                _fd.DangerousRelease();
            }
            if (n > 0)
            {
                Interlocked.Add(ref _writtenBytes, n);
                data = data[(int)n..];
                continue;
            }
            if (n == 0) throw new DeviceException(DeviceErrorKind.IoFailed, $"write on data_fd {_fd.Fd} made no progress");
            switch (errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.EAGAIN:
                    WaitReady(LibC.POLLOUT);
                    continue;
                case Errno.ENODEV:
                    _dead = true;
                    throw new DeviceException(DeviceErrorKind.DeadSession, "the resuming session is gone", errno);
                case Errno.EFAULT or Errno.ENOMEM or Errno.EOPNOTSUPP or Errno.EINVAL:
                    throw new DeviceException(DeviceErrorKind.Incompatible, "the destination device refused the state", errno);
                default:
                    throw new DeviceException(DeviceErrorKind.IoFailed, $"write on data_fd {_fd.Fd} failed", errno);
            }
        }
    }

    /// <summary>
    /// VFIO_MIG_GET_PRECOPY_INFO on the fd when allowed and supported (struct vfio_precopy_info:
    /// 0 u32 argsz = 24 | 4 u32 flags = 0 | 8 u64 initial_bytes | 16 u64 dirty_bytes); otherwise
    /// (ENOTTY: not a VFIO fd, or the VMM keeps the ioctl) the VMM's last precopy-info hint, or
    /// (0, 0) when it never sent one.
    /// </summary>
    public PrecopyInfo? GetPrecopyInfo()
    {
        if (!IsSaving) throw new DeviceException(DeviceErrorKind.IoFailed, "precopy info on a resuming data channel", Errno.EBADF);
        if (_dead) return null;
        if (_stopCopy) throw new DeviceException(DeviceErrorKind.IoFailed, "precopy info outside PRE_COPY", Errno.EINVAL);
        if (!_ioctlUnsupported)
        {
            ulong* info = stackalloc ulong[3];
            info[0] = 24; // argsz = 24, flags = 0 (little-endian u32 pair); drivers echo flags, so zero it
            info[1] = info[2] = 0;
            int fd = AcquireFd();
            if (fd < 0) return null;
            int result, errno = 0;
            try
            {
                result = LibC.Ioctl(fd, LibC.VFIO_MIG_GET_PRECOPY_INFO, info);
                if (result < 0) errno = Marshal.GetLastPInvokeError();
            }
            finally
            {
                _fd.DangerousRelease();
            }
            if (result == 0) return new PrecopyInfo(info[1], info[2]);
            switch (errno)
            {
                case Errno.ENODEV:
                    _dead = true;
                    _owner?.OnDeadSession(this);
                    return null;
                case Errno.ENOTTY:
                    _ioctlUnsupported = true;
                    break;
                default:
                    throw new DeviceException(DeviceErrorKind.IoFailed, $"VFIO_MIG_GET_PRECOPY_INFO on data_fd {_fd.Fd} failed", errno);
            }
        }
        return _owner?.PrecopyHint ?? new PrecopyInfo(0, 0);
    }

    /// <summary>Closes StreamKit's copy of the fd (the device state is untouched).</summary>
    public void Dispose()
    {
        _dead = true;
        _fd.Dispose();
    }

    /// <summary>
    /// Holds a reference on the fd for one syscall (release with DangerousRelease), so a concurrent
    /// Dispose cannot close it, and its number be reused, mid-call. -1 when already closed.
    /// </summary>
    private int AcquireFd()
    {
        bool added = false;
        try
        {
            _fd.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        return _fd.Fd;
    }

    private void WaitReady(short events)
    {
        while (!_dead && !(_owner?.IsAborted ?? false))
        {
            int fd = AcquireFd();
            if (fd < 0) break;
            int ready, errno = 0;
            try
            {
                PollFd pollFd = new() { Fd = fd, Events = events };
                ready = LibC.Poll(&pollFd, 1, PollSliceMilliseconds);
                if (ready < 0) errno = Marshal.GetLastPInvokeError();
            }
            finally
            {
                _fd.DangerousRelease();
            }
            if (ready > 0) return;
            if (ready < 0 && errno != Errno.EINTR)
                throw new DeviceException(DeviceErrorKind.IoFailed, $"poll on data_fd {_fd.Fd} failed", errno);
        }
        throw new DeviceException(DeviceErrorKind.DeadSession, "the data session ended while waiting for it");
    }
}
