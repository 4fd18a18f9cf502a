namespace StreamKit.Device;

/// <summary>
/// A device's migration data channel: the <c>data_fd</c> of one saving or resuming session.
/// Reads and writes are blocking calls into the device (as read()/write() on data_fd are);
/// callers run them on their own threads.
/// </summary>
public interface IMigrationDataChannel : IDisposable
{
    /// <summary>True for a saving session (read side), false for a resuming session (write side).</summary>
    bool IsSaving { get; }

    /// <summary>
    /// Reads up to <paramref name="buffer"/>.Length bytes straight into the caller's buffer.
    /// A 0-byte read in PRE_COPY is <see cref="DataReadStatus.TemporaryEnd"/>, in STOP_COPY
    /// <see cref="DataReadStatus.FinalEnd"/>; ENODEV is <see cref="DataReadStatus.DeadSession"/>.
    /// </summary>
    /// <exception cref="DeviceException">Any other failure, with its errno.</exception>
    DataReadResult Read(Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/>, looping over partial writes.</summary>
    /// <exception cref="DeviceException">The device refused the bytes (errno, e.g. EFAULT/ENOMEM: incompatible), or the session is dead.</exception>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>
    /// Writes <paramref name="count"/> zero bytes (a ZERO_RUN): the device gets exactly the bytes
    /// <see cref="Write"/> of that many zeros would give it. This default writes them from one shared zero
    /// block in large writes; a channel that can take zeros more cheaply (the simulator) overrides it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="DeviceException">As for <see cref="Write"/>.</exception>
    void WriteZeros(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        while (count > 0)
        {
            int piece = (int)Math.Min(count, ZeroBlock.Length);
            Write(ZeroBlock.Span(piece));
            count -= piece;
        }
    }

    /// <summary>
    /// <c>VFIO_MIG_GET_PRECOPY_INFO</c> (flags zeroed). Valid only in PRE_COPY(_P2P). Some drivers
    /// (mlx5) produce new dirty data only from inside this call, so pumps call it between reads.
    /// </summary>
    /// <returns>The hints; <see cref="PrecopyInfo.Unavailable"/> when the channel has no such ioctl
    /// (ENOTTY: pipes, resuming channels); null when the session is dead (ENODEV).</returns>
    /// <exception cref="DeviceException">Any other failure.</exception>
    PrecopyInfo? GetPrecopyInfo();
}
