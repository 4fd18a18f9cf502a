namespace StreamKit.Device;

/// <summary>
/// The driver side of one saving session: produces the state stream a real driver would put behind
/// its <c>data_fd</c>. Called only under the device lock.
/// </summary>
internal abstract class SaveStream
{
    /// <summary>The session moved to STOP_COPY: state frozen, the stream now ends for good.</summary>
    internal bool StopCopy { get; private set; }

    /// <summary>The device is in PRE_COPY_P2P (mlx5 takes no new incremental image there).</summary>
    internal bool P2P { get; set; }

    /// <summary>Bytes handed out so far.</summary>
    internal long Position { get; private set; }

    /// <summary>Fills up to <paramref name="dest"/>.Length bytes; 0 = nothing now (PRE_COPY) or ever (STOP_COPY).</summary>
    internal int Read(Span<byte> dest)
    {
        int n = ReadCore(dest);
        Position += n;
        return n;
    }

    internal void EnterStopCopy()
    {
        if (StopCopy) return;
        StopCopy = true;
        OnStopCopy();
    }

    /// <summary>VFIO_MIG_GET_PRECOPY_INFO (device state already checked to be PRE_COPY(_P2P)).</summary>
    internal abstract PrecopyInfo GetPrecopyInfo();

    /// <summary>A unit of device state changed while this session was open.</summary>
    internal virtual void OnUnitDirtied(long unit) { }

    /// <summary>MIG_DATA_SIZE while this session is open.</summary>
    internal abstract long RemainingEstimate();

    protected abstract int ReadCore(Span<byte> dest);

    protected abstract void OnStopCopy();
}
