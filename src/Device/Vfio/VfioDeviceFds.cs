using System.Text;

namespace StreamKit.Device.Vfio;

/// <summary>
/// A VFIO device fd plus the fds that keep it usable: the iommufd (cdev API) or the group and
/// container (legacy API). Disposing closes the device first, then the rest.
/// </summary>
internal sealed unsafe class VfioDeviceFds : IDisposable
{
    private readonly SafeFdHandle[] _keepAlive;

    private VfioDeviceFds(SafeFdHandle device, string api, params SafeFdHandle[] keepAlive)
    {
        Device = device;
        Api = api;
        _keepAlive = keepAlive;
    }

    internal SafeFdHandle Device { get; }

    /// <summary>"iommufd" or "group".</summary>
    internal string Api { get; }

    public void Dispose()
    {
        Device.Dispose();
        foreach (var fd in _keepAlive) fd.Dispose();
    }

    /// <summary>
    /// The iommufd cdev path: open <c>/dev/vfio/devices/vfioN</c> and <c>/dev/iommu</c>,
    /// <c>IOMMU_IOAS_ALLOC</c>, <c>VFIO_DEVICE_BIND_IOMMUFD</c>, <c>VFIO_DEVICE_ATTACH_IOMMUFD_PT</c>.
    /// </summary>
    internal static VfioDeviceFds OpenCdev(string cdevPath)
    {
        SafeFdHandle device = SafeFdHandle.TryOpen(cdevPath, out int errno) ?? throw OpenFailure(cdevPath, errno);
        SafeFdHandle? iommu = null;
        try
        {
            iommu = SafeFdHandle.TryOpen("/dev/iommu", out errno) ?? throw OpenFailure("/dev/iommu", errno);

            // struct iommu_ioas_alloc (12 bytes): 0 u32 size | 4 u32 flags (0) | 8 u32 out_ioas_id
            Span<byte> ioas = stackalloc byte[12];
            ioas.Clear();
            HostOrder.WriteU32(ioas, 0, 12);
            fixed (byte* p = ioas)
                if (LibC.Ioctl(iommu, VfioIoctl.IommuIoasAlloc, p) != 0) throw SetupFailure("IOMMU_IOAS_ALLOC", cdevPath);
            uint ioasId = HostOrder.ReadU32(ioas, 8);

            // struct vfio_device_bind_iommufd (16 bytes): 0 u32 argsz | 4 u32 flags (0) | 8 s32 iommufd | 12 u32 out_devid
            // (kernels >= 6.17 append 16 u64 token_uuid_ptr, used only with VFIO_DEVICE_BIND_FLAG_TOKEN.)
            Span<byte> bind = stackalloc byte[16];
            bind.Clear();
            HostOrder.WriteU32(bind, 0, 16);
            HostOrder.WriteS32(bind, 8, iommu.Fd);
            fixed (byte* p = bind)
                if (LibC.Ioctl(device, VfioIoctl.DeviceBindIommufd, p) != 0)
                {
                    // The kernel answers EINVAL, not EBUSY, when the device is already open (cdev use is exclusive).
                    int e = LibC.LastErrno;
                    throw new DeviceException(DeviceErrorKind.Unavailable, e == Errno.EINVAL
                        ? $"device busy: VFIO_DEVICE_BIND_IOMMUFD on {cdevPath} refused; the device is already open (through another fd or its group)"
                        : $"VFIO_DEVICE_BIND_IOMMUFD on {cdevPath} failed", e);
                }

            // struct vfio_device_attach_iommufd_pt (12 bytes): 0 u32 argsz | 4 u32 flags (0) | 8 u32 pt_id
            // (later kernels append 12 u32 pasid, read only with VFIO_DEVICE_ATTACH_PASID; minsz stays 12.)
            Span<byte> attach = stackalloc byte[12];
            attach.Clear();
            HostOrder.WriteU32(attach, 0, 12);
            HostOrder.WriteU32(attach, 8, ioasId);
            fixed (byte* p = attach)
                if (LibC.Ioctl(device, VfioIoctl.DeviceAttachIommufdPt, p) != 0) throw SetupFailure("VFIO_DEVICE_ATTACH_IOMMUFD_PT", cdevPath);

            return new VfioDeviceFds(device, "iommufd", iommu);
        }
        catch
        {
            device.Dispose();
            iommu?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The group/container path: open <c>/dev/vfio/vfio</c> (API version, TYPE1v2 extension) and
    /// <c>/dev/vfio/N</c> (viable), <c>VFIO_GROUP_SET_CONTAINER</c>, <c>VFIO_SET_IOMMU</c> TYPE1v2,
    /// <c>VFIO_GROUP_GET_DEVICE_FD</c> by name (mdev uuid or PCI address). One container per device.
    /// </summary>
    internal static VfioDeviceFds OpenGroup(string groupPath, string deviceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceName);
        SafeFdHandle container = SafeFdHandle.TryOpen("/dev/vfio/vfio", out int errno) ?? throw OpenFailure("/dev/vfio/vfio", errno);
        SafeFdHandle? group = null;
        try
        {
            int version = LibC.Ioctl(container, VfioIoctl.GetApiVersion, 0);
            if (version != VfioIoctl.ApiVersion)
                throw new DeviceException(DeviceErrorKind.Unavailable, version < 0
                    ? "VFIO_GET_API_VERSION failed on /dev/vfio/vfio"
                    : $"VFIO API version {version}, expected {VfioIoctl.ApiVersion}", version < 0 ? LibC.LastErrno : 0);
            int hasType1v2 = LibC.Ioctl(container, VfioIoctl.CheckExtension, VfioIoctl.Type1v2Iommu);
            if (hasType1v2 <= 0)
                throw new DeviceException(DeviceErrorKind.Unavailable, "the VFIO container has no TYPE1v2 IOMMU (VFIO_CHECK_EXTENSION)",
                    hasType1v2 < 0 ? LibC.LastErrno : 0);

            group = SafeFdHandle.TryOpen(groupPath, out errno) ?? throw OpenFailure(groupPath, errno);

            // struct vfio_group_status (8 bytes): 0 u32 argsz | 4 u32 flags (out: VIABLE 1, CONTAINER_SET 2)
            Span<byte> status = stackalloc byte[8];
            status.Clear();
            HostOrder.WriteU32(status, 0, 8);
            fixed (byte* p = status)
                if (LibC.Ioctl(group, VfioIoctl.GroupGetStatus, p) != 0) throw SetupFailure("VFIO_GROUP_GET_STATUS", groupPath);
            if ((HostOrder.ReadU32(status, 4) & VfioIoctl.GroupFlagViable) == 0)
                throw new DeviceException(DeviceErrorKind.Unavailable,
                    $"VFIO group {groupPath} is not viable: every device in the group must be bound to a VFIO driver");

            int containerFd = container.Fd;
            if (LibC.Ioctl(group, VfioIoctl.GroupSetContainer, &containerFd) != 0) throw SetupFailure("VFIO_GROUP_SET_CONTAINER", groupPath);
            if (LibC.Ioctl(container, VfioIoctl.SetIommu, VfioIoctl.Type1v2Iommu) != 0) throw SetupFailure("VFIO_SET_IOMMU(TYPE1v2)", groupPath);

            int nameBytes = Encoding.UTF8.GetByteCount(deviceName);
            if (nameBytes > 255) throw new ArgumentException("VFIO device name longer than 255 bytes", nameof(deviceName));
            Span<byte> name = stackalloc byte[nameBytes + 1];
            Encoding.UTF8.GetBytes(deviceName, name);
            name[nameBytes] = 0;
            int deviceFd;
            fixed (byte* p = name)
                deviceFd = LibC.Ioctl(group, VfioIoctl.GroupGetDeviceFd, p);
            if (deviceFd < 0)
            {
                int e = LibC.LastErrno;
                throw new DeviceException(DeviceErrorKind.Unavailable, e == Errno.EBUSY
                    ? $"device busy: {deviceName} in {groupPath} is already in use"
                    : $"VFIO_GROUP_GET_DEVICE_FD({deviceName}) on {groupPath} failed (is the name a device of this group?)", e);
            }
            return new VfioDeviceFds(new SafeFdHandle(deviceFd), "group", group, container);
        }
        catch
        {
            group?.Dispose();
            container.Dispose();
            throw;
        }
    }

    private static DeviceException SetupFailure(string ioctl, string path)
    {
        int errno = LibC.LastErrno;
        string why = errno == Errno.EBUSY ? $"device busy: {ioctl} on {path}" : $"{ioctl} on {path} failed";
        return new DeviceException(DeviceErrorKind.Unavailable, why, errno);
    }

    /// <summary>Open failures in words an operator can act on.</summary>
    internal static DeviceException OpenFailure(string path, int errno)
    {
        string message = errno switch
        {
            Errno.ENOENT when path == "/dev/vfio/vfio" => "no VFIO on this kernel: /dev/vfio/vfio does not exist (vfio module not loaded?)",
            Errno.ENOENT when path == "/dev/iommu" => "no iommufd on this kernel: /dev/iommu does not exist",
            Errno.ENOENT when path.StartsWith("/dev/vfio/", StringComparison.Ordinal) && !Directory.Exists("/dev/vfio") =>
                $"no VFIO on this kernel: {path} does not exist (no /dev/vfio)",
            Errno.ENOENT => $"no such VFIO device node: {path}",
            Errno.EACCES or Errno.EPERM => $"permission denied opening {path} (needs root or ownership of the VFIO node)",
            Errno.EBUSY => $"device busy: {path} is already open (another user, or the same device through its other VFIO API)",
            _ => $"cannot open {path}",
        };
        return new DeviceException(DeviceErrorKind.Unavailable, message, errno);
    }
}
