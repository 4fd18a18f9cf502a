using System.Diagnostics;

namespace StreamKit.Device;

/// <summary>
/// The <c>data_fd</c> of one simulated session. Behaves like the real fd seen through
/// <see cref="FdDataChannel"/>: reads on a resuming channel and writes on a saving one fail EBADF; once
/// the session ends (left its state group, reset, device disposed) reads return DeadSession, writes throw
/// ENODEV and precopy info returns null; precopy info outside PRE_COPY(_P2P) fails EINVAL; after a failed
/// write every further write is refused with the first failure. Injected faults fire here.
/// </summary>
internal sealed class SimulatedDataChannel : IMigrationDataChannel
{
    private readonly SimulatedDevice _device;
    private readonly FaultInjector.SavePlan? _plan;
    private readonly long _writeErrorAt;
    private bool _disposed;

    internal SimulatedDataChannel(SimulatedDevice device, SaveStream save, FaultInjector.SavePlan plan)
    {
        _device = device;
        Save = save;
        _plan = plan;
        _writeErrorAt = long.MaxValue;
    }

    internal SimulatedDataChannel(SimulatedDevice device, LoadStream load, long writeErrorAt)
    {
        _device = device;
        Load = load;
        _writeErrorAt = writeErrorAt;
    }

    internal SaveStream? Save { get; }

    internal LoadStream? Load { get; }

    /// <summary>Set by the device (under its lock) when the session ends.</summary>
    internal bool Dead { get; set; }

    /// <inheritdoc/>
    public bool IsSaving => Save is not null;

    /// <inheritdoc/>
    public DataReadResult Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty) throw new ArgumentException("read buffer must not be empty", nameof(buffer));
        if (Save is null) throw Failure(DeviceErrorKind.IoFailed, "read() on a resuming data channel", Errno.EBADF);
        TimeSpan delay = _device.Faults.SlowRead;
        if (delay > TimeSpan.Zero) Thread.Sleep(delay);
        lock (_device.Sync)
        {
            if (Dead) return DataReadResult.Dead;
            long pos = Save.Position;
            if (pos >= _plan!.ResetAtByte || Stopwatch.GetTimestamp() >= _plan.ResetAtTimestamp)
            {
                _device.FaultReset(Save.StopCopy ? "STOP_COPY" : "PRE_COPY", pos);
                return DataReadResult.Dead;
            }
            if (pos >= _plan.ReadErrorAtByte)
            {
                _device.Injector.ReadErrorFired(_plan);
                throw Failure(DeviceErrorKind.IoFailed, $"injected read error at byte {pos}", _device.Faults.ReadErrno);
            }
            long limit = Math.Min(_plan.ResetAtByte, _plan.ReadErrorAtByte) - pos;
            int n = Save.Read(limit < buffer.Length ? buffer[..(int)limit] : buffer);
            _device.AfterSaveRead(n);
            if (n > 0) return DataReadResult.Bytes(n);
            return Save.StopCopy ? DataReadResult.Final : DataReadResult.Temporary;
        }
    }

    /// <inheritdoc/>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (!BeginWrite(data.Length)) return;
        lock (_device.Sync)
        {
            long pos = CheckWritable(data.Length);
            ThrowIfRefused(Load!.Write(data), data.Length, pos);
        }
    }

    /// <summary>
    /// Zeros as the driver would take them from <see cref="Write"/> (same checks, faults and result), without
    /// materialising them: the bulk profile checks whole zero pages by the generator's zero flag.
    /// </summary>
    public void WriteZeros(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (!BeginWrite(count)) return;
        lock (_device.Sync)
        {
            long pos = CheckWritable(count);
            ThrowIfRefused(Load!.WriteZeros(count), count, pos);
        }
    }

    /// <summary>The checks before the lock; false for an empty write (nothing to do).</summary>
    private bool BeginWrite(long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Load is null) throw Failure(DeviceErrorKind.IoFailed, "write() on a saving data channel", Errno.EBADF);
        if (length == 0) return false;
        TimeSpan delay = _device.Faults.SlowWrite;
        if (delay > TimeSpan.Zero) Thread.Sleep(delay);
        return true;
    }

    /// <summary>Under the device lock: refuses a write on a poisoned or dead session, fires an injected write error; returns the stream position.</summary>
    private long CheckWritable(long length)
    {
        // Like the real channel (FdDataChannel): after a failed write nothing more reaches the driver,
        // not even on a session that has since ended; every later write repeats the first failure.
        if (Load!.FailedErrno is not 0 and var failed)
            throw Failure(FdDataChannel.KindOfWriteError(failed),
                "an earlier write of this resuming session failed; the device must be reset, not written further", failed);
        if (Dead) throw Failure(DeviceErrorKind.DeadSession, "write() on a dead resuming session", Errno.ENODEV);
        long pos = Load.Position;
        if (_writeErrorAt < pos + length)
        {
            _device.Injector.WriteErrorFired();
            int injected = _device.Faults.WriteErrno;
            Load.Poison(injected, $"injected write error at byte {pos}");
            throw Failure(FdDataChannel.KindOfWriteError(injected), $"injected write error at byte {pos}", injected);
        }
        return pos;
    }

    private void ThrowIfRefused(int errno, long length, long pos)
    {
        if (errno != 0)
            throw Failure(FdDataChannel.KindOfWriteError(errno),
                $"write of {length} bytes at stream byte {pos} refused: {Load!.Problem}", errno);
    }

    /// <inheritdoc/>
    public PrecopyInfo? GetPrecopyInfo()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Save is null) return PrecopyInfo.Unavailable; // the resuming fd has no such ioctl (ENOTTY)
        lock (_device.Sync)
        {
            if (Dead) return null;
            if (Stopwatch.GetTimestamp() >= _plan!.ResetAtTimestamp)
            {
                _device.FaultReset("PRE_COPY", Save.Position);
                return null;
            }
            if (Save.StopCopy)
                throw Failure(DeviceErrorKind.IoFailed, "VFIO_MIG_GET_PRECOPY_INFO outside PRE_COPY", Errno.EINVAL);
            _device.TickDirtyClock();
            return Save.GetPrecopyInfo();
        }
    }

    /// <summary>Closing the fd does not change the device state (UAPI); the session stays as it is.</summary>
    public void Dispose() => _disposed = true;

    private DeviceException Failure(DeviceErrorKind kind, string what, int errno) =>
        new(kind, $"{_device.Name}: {what}", errno, _device.StateUnlocked);
}
