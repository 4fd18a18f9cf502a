namespace StreamKit.Device.Vfio;

/// <summary>
/// <c>VFIO_MIG_GET_PRECOPY_INFO</c> on a data_fd. Layout of <c>struct vfio_precopy_info</c> (24 bytes, host order):
/// <code>
///   0  u32 argsz          24
///   4  u32 flags          0 in; drivers echo it back instead of writing it, so it is always zeroed
///   8  u64 initial_bytes  out
///  16  u64 dirty_bytes    out
/// </code>
/// </summary>
internal static unsafe class VfioPrecopyInfo
{
    internal const int StructSize = 24;

    /// <summary>Issues the ioctl once; returns 0 and the hints, or the errno.</summary>
    internal static int Query(SafeFdHandle dataFd, out PrecopyInfo info)
    {
        Span<byte> buffer = stackalloc byte[StructSize];
        buffer.Clear();
        HostOrder.WriteU32(buffer, 0, StructSize);
        int result;
        fixed (byte* p = buffer)
            result = LibC.Ioctl(dataFd, VfioIoctl.MigGetPrecopyInfo, p);
        if (result != 0)
        {
            info = default;
            return LibC.LastErrno;
        }
        info = new PrecopyInfo(HostOrder.ReadU64(buffer, 8), HostOrder.ReadU64(buffer, 16));
        return 0;
    }
}
