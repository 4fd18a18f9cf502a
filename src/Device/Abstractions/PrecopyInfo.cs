namespace StreamKit.Device;

/// <summary>
/// <c>VFIO_MIG_GET_PRECOPY_INFO</c> result: hints only, never lengths. Both zero means a
/// temporary end of the pre-copy stream.
/// </summary>
/// <param name="InitialBytes">Initial bytes not yet read; decreases to 0 and stays there.</param>
/// <param name="DirtyBytes">Bytes that changed since they were read.</param>
public readonly record struct PrecopyInfo(ulong InitialBytes, ulong DirtyBytes);
