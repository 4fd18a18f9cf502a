using System.Runtime.InteropServices;

namespace StreamKit.Device.Vfio;

/// <summary>
/// VFIO and iommufd ioctl request numbers, computed as the kernel's <c>_IO(type, nr)</c> does
/// (include/uapi/asm-generic/ioctl.h): <c>(dir &lt;&lt; DIRSHIFT) | (type &lt;&lt; 8) | nr</c> with
/// size 0 and dir = <c>_IOC_NONE</c>. All VFIO ioctls are <c>_IO</c>: the size travels in each
/// struct's <c>argsz</c>. <c>_IOC_NONE</c> is 0 on the generic encoding (x86-64, arm64, riscv64,
/// loongarch64, s390x) and 1 with DIRSHIFT 29 on powerpc, so <c>VFIO_DEVICE_FEATURE</c> is
/// 0x3B75 on x86-64 and 0x20003B75 on ppc64le.
/// </summary>
internal static class VfioIoctl
{
    /// <summary><c>VFIO_TYPE</c> = <c>';'</c>; also <c>IOMMUFD_TYPE</c>.</summary>
    private const uint VfioType = 0x3B;
    /// <summary><c>VFIO_BASE</c>.</summary>
    private const uint VfioBase = 100;
    /// <summary><c>IOMMUFD_CMD_BASE</c>.</summary>
    private const uint IommufdBase = 0x80;

    private static readonly bool PowerPcEncoding = RuntimeInformation.ProcessArchitecture == Architecture.Ppc64le;

    /// <summary><c>_IO(type, nr)</c>.</summary>
    internal static nuint Io(uint type, uint nr)
    {
        uint none = PowerPcEncoding ? 1u << 29 : 0u;
        return none | (type << 8) | nr;
    }

    // Container (/dev/vfio/vfio).
    /// <summary><c>VFIO_GET_API_VERSION</c> = _IO(';', 100): returns <c>VFIO_API_VERSION</c> (0).</summary>
    internal static readonly nuint GetApiVersion = Io(VfioType, VfioBase + 0);
    /// <summary><c>VFIO_CHECK_EXTENSION</c> = _IO(';', 101): arg = extension id by value; returns &gt; 0 if supported.</summary>
    internal static readonly nuint CheckExtension = Io(VfioType, VfioBase + 1);
    /// <summary><c>VFIO_SET_IOMMU</c> = _IO(';', 102): arg = IOMMU model by value.</summary>
    internal static readonly nuint SetIommu = Io(VfioType, VfioBase + 2);

    // Group (/dev/vfio/N).
    /// <summary><c>VFIO_GROUP_GET_STATUS</c> = _IO(';', 103): <c>struct vfio_group_status</c>.</summary>
    internal static readonly nuint GroupGetStatus = Io(VfioType, VfioBase + 3);
    /// <summary><c>VFIO_GROUP_SET_CONTAINER</c> = _IO(';', 104): arg = pointer to the container's s32 fd.</summary>
    internal static readonly nuint GroupSetContainer = Io(VfioType, VfioBase + 4);
    /// <summary><c>VFIO_GROUP_GET_DEVICE_FD</c> = _IO(';', 106): arg = NUL-terminated device name; returns a device fd.</summary>
    internal static readonly nuint GroupGetDeviceFd = Io(VfioType, VfioBase + 6);

    // Device fd.
    /// <summary><c>VFIO_DEVICE_GET_INFO</c> = _IO(';', 107): <c>struct vfio_device_info</c>.</summary>
    internal static readonly nuint DeviceGetInfo = Io(VfioType, VfioBase + 7);
    /// <summary><c>VFIO_DEVICE_GET_REGION_INFO</c> = _IO(';', 108): <c>struct vfio_region_info</c>.</summary>
    internal static readonly nuint DeviceGetRegionInfo = Io(VfioType, VfioBase + 8);
    /// <summary><c>VFIO_DEVICE_RESET</c> = _IO(';', 111): no argument.</summary>
    internal static readonly nuint DeviceReset = Io(VfioType, VfioBase + 11);
    /// <summary><c>VFIO_DEVICE_FEATURE</c> = _IO(';', 117): <c>struct vfio_device_feature</c> + payload.</summary>
    internal static readonly nuint DeviceFeature = Io(VfioType, VfioBase + 17);
    /// <summary><c>VFIO_DEVICE_BIND_IOMMUFD</c> = _IO(';', 118): <c>struct vfio_device_bind_iommufd</c>.</summary>
    internal static readonly nuint DeviceBindIommufd = Io(VfioType, VfioBase + 18);
    /// <summary><c>VFIO_DEVICE_ATTACH_IOMMUFD_PT</c> = _IO(';', 119): <c>struct vfio_device_attach_iommufd_pt</c>.</summary>
    internal static readonly nuint DeviceAttachIommufdPt = Io(VfioType, VfioBase + 19);

    // data_fd.
    /// <summary><c>VFIO_MIG_GET_PRECOPY_INFO</c> = _IO(';', 121): <c>struct vfio_precopy_info</c>.</summary>
    internal static readonly nuint MigGetPrecopyInfo = Io(VfioType, VfioBase + 21);

    // iommufd (/dev/iommu).
    /// <summary><c>IOMMU_IOAS_ALLOC</c> = _IO(';', 0x81): <c>struct iommu_ioas_alloc</c>.</summary>
    internal static readonly nuint IommuIoasAlloc = Io(VfioType, IommufdBase + 1);

    /// <summary><c>VFIO_API_VERSION</c>.</summary>
    internal const int ApiVersion = 0;
    /// <summary><c>VFIO_TYPE1v2_IOMMU</c>.</summary>
    internal const int Type1v2Iommu = 3;
    /// <summary><c>VFIO_GROUP_FLAGS_VIABLE</c>: every device of the group is bound to a VFIO driver.</summary>
    internal const uint GroupFlagViable = 1 << 0;

    // vfio_device_feature.flags
    /// <summary><c>VFIO_DEVICE_FEATURE_GET</c>.</summary>
    internal const uint FeatureGet = 1 << 16;
    /// <summary><c>VFIO_DEVICE_FEATURE_SET</c>.</summary>
    internal const uint FeatureSet = 1 << 17;
    /// <summary><c>VFIO_DEVICE_FEATURE_PROBE</c>.</summary>
    internal const uint FeatureProbe = 1 << 18;
    /// <summary><c>VFIO_DEVICE_FEATURE_MIGRATION</c> (GET: <c>struct vfio_device_feature_migration</c>).</summary>
    internal const uint FeatureMigration = 1;
    /// <summary><c>VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE</c> (GET/SET: <c>struct vfio_device_feature_mig_state</c>).</summary>
    internal const uint FeatureMigDeviceState = 2;
    /// <summary><c>VFIO_DEVICE_FEATURE_MIG_DATA_SIZE</c> (GET: <c>struct vfio_device_feature_mig_data_size</c>).</summary>
    internal const uint FeatureMigDataSize = 9;

    /// <summary><c>VFIO_DEVICE_FLAGS_RESET</c> in <c>vfio_device_info.flags</c>.</summary>
    internal const uint DeviceFlagReset = 1 << 0;
    /// <summary><c>VFIO_DEVICE_FLAGS_PCI</c>.</summary>
    internal const uint DeviceFlagPci = 1 << 1;
}
