using System.Runtime.InteropServices;

namespace StreamKit.Device;

/// <summary>
/// <c>struct vfio_precopy_info</c> (include/uapi/linux/vfio.h), 24 bytes, host byte order:
/// 0 u32 argsz | 4 u32 flags | 8 u64 initial_bytes | 16 u64 dirty_bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct VfioPrecopyInfo
{
    internal const int Size = 24;

    /// <summary><c>VFIO_MIG_GET_PRECOPY_INFO</c> = _IO(';', 100 + 21) with the generic ioctl encoding
    /// (x86, arm64, riscv). powerpc/mips/sparc encode _IO differently and are not supported.</summary>
    internal const nuint Request = (0x3B << 8) | (100 + 21);

    [FieldOffset(0)] public uint ArgSz;
    [FieldOffset(4)] public uint Flags;
    [FieldOffset(8)] public ulong InitialBytes;
    [FieldOffset(16)] public ulong DirtyBytes;
}
