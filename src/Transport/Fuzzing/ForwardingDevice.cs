using StreamKit.Device;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// A device that passes every call on to another, for wrappers that watch what goes through (tests, fuzz
/// targets): a subclass puts its own channel, usually a <see cref="ForwardingDataChannel"/>, around each data
/// channel the inner device opens.
/// </summary>
internal abstract class ForwardingDevice(IMigrationDevice inner) : IMigrationDevice
{
    public string Name => inner.Name;
    public string DriverHint => inner.DriverHint;
    public MigrationFeatures Features => inner.Features;
    public MigrationState GetState() => inner.GetState();
    public ulong? GetStopCopySizeEstimate() => inner.GetStopCopySizeEstimate();
    public void Reset() => inner.Reset();
    public void Dispose() => inner.Dispose();

    public IMigrationDataChannel? SetState(MigrationState target) => inner.SetState(target) is { } channel ? Wrap(channel) : null;

    /// <summary>The channel handed out in place of <paramref name="channel"/>, which the inner device just opened.</summary>
    protected abstract IMigrationDataChannel Wrap(IMigrationDataChannel channel);
}

/// <summary>
/// A data channel that passes every call on to another; a subclass overrides what it watches. Zero runs
/// take the interface's default path (zero blocks through <see cref="Write"/>), so a subclass that watches
/// writes sees them too.
/// </summary>
internal class ForwardingDataChannel(IMigrationDataChannel inner) : IMigrationDataChannel
{
    /// <summary>The channel calls are passed on to.</summary>
    protected IMigrationDataChannel Inner => inner;

    public bool IsSaving => inner.IsSaving;
    public virtual DataReadResult Read(Span<byte> buffer) => inner.Read(buffer);
    public virtual void Write(ReadOnlySpan<byte> data) => inner.Write(data);
    public PrecopyInfo? GetPrecopyInfo() => inner.GetPrecopyInfo();
    public void Dispose() => inner.Dispose();
}
