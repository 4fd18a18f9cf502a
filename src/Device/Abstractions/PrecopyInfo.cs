namespace StreamKit.Device;

/// <summary>
/// <c>VFIO_MIG_GET_PRECOPY_INFO</c> result: hints only, never lengths. Both zero means a
/// temporary end of the pre-copy stream.
/// </summary>
/// <param name="InitialBytes">Initial bytes not yet read; decreases to 0 and stays there.</param>
/// <param name="DirtyBytes">Bytes that changed since they were read.</param>
public readonly record struct PrecopyInfo(ulong InitialBytes, ulong DirtyBytes)
{
    /// <summary>
    /// "No hints available": the channel has no <c>VFIO_MIG_GET_PRECOPY_INFO</c> (the ioctl failed
    /// ENOTTY, e.g. a pipe standing in for a data_fd). Both fields are <see cref="ulong.MaxValue"/>,
    /// which no driver reports, so a consumer that ignores <see cref="IsAvailable"/> sees
    /// "far from converged" rather than a false "done".
    /// </summary>
    public static PrecopyInfo Unavailable => new(ulong.MaxValue, ulong.MaxValue);

    /// <summary>False for <see cref="Unavailable"/>.</summary>
    public bool IsAvailable => InitialBytes != ulong.MaxValue || DirtyBytes != ulong.MaxValue;
}
