namespace StreamKit.Device;

/// <summary>
/// Data channels over file descriptors a VMM already holds, e.g. pipes handed over with SCM_RIGHTS
/// that carry a device's migration data. Semantics are those of a VFIO <c>data_fd</c>
/// (see <see cref="IMigrationDataChannel"/>); on a pipe the pre-copy ioctl is absent, so
/// <see cref="IMigrationDataChannel.GetPrecopyInfo"/> returns <see cref="PrecopyInfo.Unavailable"/>.
/// </summary>
public static class FdDataChannels
{
    /// <summary>A saving (read) channel on <paramref name="fd"/>.</summary>
    /// <param name="fd">An open, readable descriptor (blocking or O_NONBLOCK).</param>
    /// <param name="inStopCopy">Asked before every read: true once the session is in STOP_COPY (a 0-byte
    /// read is then the final end), false during pre-copy (a temporary end). Sampled before the read so that
    /// a switch to STOP_COPY during a read that drained pre-copy costs one more read, never the STOP_COPY data.</param>
    /// <param name="ownsFd">Close the descriptor when the channel is disposed.</param>
    public static IMigrationDataChannel OpenSaving(int fd, Func<bool> inStopCopy, bool ownsFd = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        ArgumentNullException.ThrowIfNull(inStopCopy);
        return FdDataChannel.ForFd(new SafeFdHandle(fd, ownsFd), isSaving: true, inStopCopy);
    }

    /// <summary>A resuming (write) channel on <paramref name="fd"/>.</summary>
    /// <param name="fd">An open, writable descriptor (blocking or O_NONBLOCK).</param>
    /// <param name="ownsFd">Close the descriptor when the channel is disposed.</param>
    public static IMigrationDataChannel OpenResuming(int fd, bool ownsFd = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        return FdDataChannel.ForFd(new SafeFdHandle(fd, ownsFd), isSaving: false, null);
    }
}
