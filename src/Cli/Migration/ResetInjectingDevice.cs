using StreamKit.Device;

namespace StreamKit.Cli;

/// <summary>
/// Test hook behind the hidden <c>--inject-reset-in-precopy ID</c> option of <c>streamkit send</c>: resets
/// the wrapped device (VFIO_DEVICE_RESET through its own device fd, the same kernel operation as a
/// guest-initiated FLR) once, right after the first PRE_COPY read that returned data. The sender's
/// next read then finds the session dead (ENODEV) and recovers with a DISCARD, exactly as for a reset
/// it did not cause. It exists because a real device (mtty) can be opened only once, so nothing
/// outside the sending process can reset it while `streamkit send` holds it; simulated devices use
/// their own <c>reset-at=</c> fault instead.
/// </summary>
internal sealed class ResetInjectingDevice(IMigrationDevice inner) : IMigrationDevice
{
    private int _armed = 1;

    /// <summary>The wrapped device.</summary>
    internal IMigrationDevice Inner => inner;

    /// <summary>True once the reset was injected.</summary>
    internal bool Injected => Volatile.Read(ref _armed) == 0;

    /// <inheritdoc/>
    public string Name => inner.Name;

    /// <inheritdoc/>
    public string DriverHint => inner.DriverHint;

    /// <inheritdoc/>
    public MigrationFeatures Features => inner.Features;

    /// <inheritdoc/>
    public MigrationState GetState() => inner.GetState();

    /// <inheritdoc/>
    public IMigrationDataChannel? SetState(MigrationState target)
    {
        var channel = inner.SetState(target);
        bool preCopy = target is MigrationState.PreCopy or MigrationState.PreCopyP2P;
        return channel is not null && preCopy && Volatile.Read(ref _armed) == 1 ? new Channel(this, channel) : channel;
    }

    /// <inheritdoc/>
    public ulong? GetStopCopySizeEstimate() => inner.GetStopCopySizeEstimate();

    /// <inheritdoc/>
    public void Reset() => inner.Reset();

    /// <inheritdoc/>
    public void Dispose() => inner.Dispose();

    private void AfterRead(DataReadResult result)
    {
        if (result.Status == DataReadStatus.Data && Interlocked.Exchange(ref _armed, 0) == 1)
            inner.Reset();
    }

    /// <summary>The PRE_COPY channel of the armed epoch: reads pass through, the first data read triggers the reset.</summary>
    private sealed class Channel(ResetInjectingDevice owner, IMigrationDataChannel inner) : IMigrationDataChannel
    {
        public bool IsSaving => inner.IsSaving;

        public DataReadResult Read(Span<byte> buffer)
        {
            var result = inner.Read(buffer);
            owner.AfterRead(result);
            return result;
        }

        public void Write(ReadOnlySpan<byte> data) => inner.Write(data);

        public PrecopyInfo? GetPrecopyInfo() => inner.GetPrecopyInfo();

        public void Dispose() => inner.Dispose();
    }
}
