using System.Runtime.InteropServices;

namespace StreamKit.Device;

/// <summary>
/// A migration data channel over any file descriptor: a VFIO <c>data_fd</c>, or a pipe a VMM
/// hands over (SCM_RIGHTS). Maps the kernel's read/write/ioctl results onto the channel contract:
/// <list type="bullet">
/// <item>read: bytes → Data; 0 → FinalEnd when the owner says the session is in STOP_COPY,
/// else TemporaryEnd; EAGAIN and ENOMSG → TemporaryEnd; ENODEV → DeadSession; EINTR → retry;
/// anything else → <see cref="DeviceException"/> with the errno.</item>
/// <item>write: loops over partial writes, retries EINTR, waits in poll() on EAGAIN (non-blocking fds);
/// the first error is thrown and makes the channel refuse further writes (a driver may have
/// counted the refused bytes, so the session cannot be continued).</item>
/// <item>precopy info: <c>VFIO_MIG_GET_PRECOPY_INFO</c> with flags zeroed; ENOTTY (not a data_fd)
/// → <see cref="PrecopyInfo.Unavailable"/> (remembered, the ioctl is not retried); ENODEV → null.</item>
/// </list>
/// The fd is wrapped in a ref-counted handle: Dispose never closes it under an I/O call in flight.
/// </summary>
internal sealed unsafe class FdDataChannel : IMigrationDataChannel
{
    private readonly SafeFdHandle _fd;
    private readonly Func<bool> _zeroReadIsFinal;
    private bool _noPrecopyIoctl;
    private int _failedWriteErrno;

    /// <summary>Wraps <paramref name="fd"/>.</summary>
    /// <param name="fd">The descriptor; owned (closed on Dispose) per its handle.</param>
    /// <param name="isSaving">True for a saving (read) channel.</param>
    /// <param name="zeroReadIsFinal">Asked on every 0-byte read: true when the session is in STOP_COPY
    /// (end for good), false in PRE_COPY (temporary end). Ignored for resuming channels.</param>
    internal FdDataChannel(SafeFdHandle fd, bool isSaving, Func<bool>? zeroReadIsFinal)
    {
        ArgumentNullException.ThrowIfNull(fd);
        if (fd.IsInvalid) throw new ArgumentOutOfRangeException(nameof(fd), "invalid file descriptor");
        if (isSaving) ArgumentNullException.ThrowIfNull(zeroReadIsFinal);
        _fd = fd;
        IsSaving = isSaving;
        _zeroReadIsFinal = zeroReadIsFinal ?? (static () => true);
    }

    /// <inheritdoc/>
    public bool IsSaving { get; }

    /// <summary>The descriptor number (diagnostics).</summary>
    internal int Fd => _fd.Fd;

    /// <summary>write() calls that accepted fewer bytes than asked (diagnostics for tests and stats).</summary>
    internal long PartialWrites { get; private set; }

    /// <summary>Times a write waited for the fd to become writable after EAGAIN.</summary>
    internal long WriteWaits { get; private set; }

    /// <inheritdoc/>
    public DataReadResult Read(Span<byte> buffer)
    {
        // A 0-byte request would come back as 0 and be mistaken for an end of stream.
        if (buffer.IsEmpty) throw new ArgumentException("read buffer must not be empty", nameof(buffer));
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.Read(_fd, p, (nuint)buffer.Length);
                if (n > 0) return DataReadResult.Bytes((int)n);
                if (n == 0) return _zeroReadIsFinal() ? DataReadResult.Final : DataReadResult.Temporary;
                int errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case Errno.EINTR: continue;
                    case Errno.EAGAIN or Errno.ENOMSG: return DataReadResult.Temporary;
                    case Errno.ENODEV: return DataReadResult.Dead;
                    default:
                        throw new DeviceException(DeviceErrorKind.IoFailed, $"read() on data channel fd {_fd.Fd} failed", errno);
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (_failedWriteErrno != 0)
            throw new DeviceException(KindOfWriteError(_failedWriteErrno),
                $"data channel fd {_fd.Fd}: an earlier write failed, the session cannot continue", _failedWriteErrno);
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                int remaining = data.Length - done;
                nint n = LibC.Write(_fd, p + done, (nuint)remaining);
                if (n > 0)
                {
                    if (n < remaining) PartialWrites++;
                    done += (int)n;
                    continue;
                }
                int errno = n == 0 ? Errno.EIO : Marshal.GetLastPInvokeError(); // 0 for >0 bytes: no progress, never spin
                if (errno == Errno.EINTR) continue;
                if (errno == Errno.EAGAIN)
                {
                    WaitWritable();
                    continue;
                }
                _failedWriteErrno = errno;
                throw new DeviceException(KindOfWriteError(errno),
                    $"write() on data channel fd {_fd.Fd} failed after {done} of {data.Length} bytes", errno);
            }
        }
    }

    /// <inheritdoc/>
    public PrecopyInfo? GetPrecopyInfo()
    {
        if (_noPrecopyIoctl) return PrecopyInfo.Unavailable;
        var info = new VfioPrecopyInfo { ArgSz = VfioPrecopyInfo.Size, Flags = 0 };
        while (true)
        {
            if (LibC.Ioctl(_fd, VfioPrecopyInfo.Request, &info) == 0)
                return new PrecopyInfo(info.InitialBytes, info.DirtyBytes);
            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Errno.EINTR:
                    info = new VfioPrecopyInfo { ArgSz = VfioPrecopyInfo.Size, Flags = 0 };
                    continue;
                case Errno.ENOTTY:
                    _noPrecopyIoctl = true;
                    return PrecopyInfo.Unavailable;
                case Errno.ENODEV:
                    return null;
                default:
                    throw new DeviceException(DeviceErrorKind.IoFailed,
                        $"VFIO_MIG_GET_PRECOPY_INFO on data channel fd {_fd.Fd} failed (EINVAL: not in PRE_COPY)", errno);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _fd.Dispose();

    /// <summary>ENODEV: session gone; the compatibility errnos drivers use on write: incompatible; else I/O.</summary>
    internal static DeviceErrorKind KindOfWriteError(int errno) => errno switch
    {
        Errno.ENODEV => DeviceErrorKind.DeadSession,
        Errno.EFAULT or Errno.ENOMEM or Errno.EOPNOTSUPP or Errno.EINVAL => DeviceErrorKind.Incompatible,
        _ => DeviceErrorKind.IoFailed,
    };

    private void WaitWritable()
    {
        WriteWaits++;
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            var pfd = new LibC.PollFd { Fd = _fd.Fd, Events = LibC.POLLOUT };
            // Errors and hang-ups show in revents; the next write() reports them with their errno.
            while (LibC.Poll(&pfd, 1, -1) < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR) { }
        }
        finally
        {
            if (added) _fd.DangerousRelease();
        }
    }
}
