namespace StreamKit.Device.Vfio;

/// <summary>
/// One device region (<c>VFIO_DEVICE_GET_REGION_INFO</c>). Layout of <c>struct vfio_region_info</c> (32 bytes):
/// <code>
///   0  u32 argsz       32
///   4  u32 flags       out: READ 1 | WRITE 2 | MMAP 4 | CAPS 8
///   8  u32 index       in: region index (PCI: BAR0..5 = 0..5, ROM 6, CONFIG 7, VGA 8)
///  12  u32 cap_offset  out
///  16  u64 size        out: bytes
///  24  u64 offset      out: where the region starts in the device fd (for pread/pwrite)
/// </code>
/// </summary>
internal readonly record struct VfioRegionInfo(uint Index, uint Flags, ulong Size, ulong Offset)
{
    internal const int StructSize = 32;
    internal const uint FlagRead = 1, FlagWrite = 2;

    internal bool CanRead => (Flags & FlagRead) != 0;
    internal bool CanWrite => (Flags & FlagWrite) != 0;
}

/// <summary>
/// <c>VFIO_DEVICE_GET_INFO</c>. Layout of <c>struct vfio_device_info</c> (24 bytes):
/// <code>
///   0  u32 argsz        24
///   4  u32 flags        out: RESET 1 | PCI 2 | PLATFORM 4 | AMBA 8 | CCW 16 | AP 32 | FSL_MC 64 | CAPS 128 | CDX 256
///   8  u32 num_regions  out
///  12  u32 num_irqs     out
///  16  u32 cap_offset   out
///  20  u32 pad
/// </code>
/// </summary>
internal readonly record struct VfioDeviceInfo(uint Flags, uint NumRegions, uint NumIrqs)
{
    internal const int StructSize = 24;

    /// <summary>The device advertises <c>VFIO_DEVICE_RESET</c> (mtty does not, yet the reset works).</summary>
    internal bool AdvertisesReset => (Flags & VfioIoctl.DeviceFlagReset) != 0;

    internal bool IsPci => (Flags & VfioIoctl.DeviceFlagPci) != 0;
}
