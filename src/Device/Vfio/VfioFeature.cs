namespace StreamKit.Device.Vfio;

/// <summary>
/// <c>VFIO_DEVICE_FEATURE</c> calls for migration. Every call here is 16 bytes, exactly as QEMU issues them:
/// <code>
/// struct vfio_device_feature (+ 8-byte payload)
///   0  u32 argsz          16
///   4  u32 flags          GET (0x10000) or SET (0x20000) | feature index
///   8  payload (8 bytes):
///        MIGRATION (1), GET, flags 0x00010001:        8 u64 flags (STOP_COPY 1 | P2P 2 | PRE_COPY 4)
///        MIG_DEVICE_STATE (2), GET 0x00010002,
///                          SET 0x00020002:            8 u32 device_state | 12 s32 data_fd (out; -1 = none)
///        MIG_DATA_SIZE (9), GET, flags 0x00010009:    8 u64 stop_copy_length
/// </code>
/// Each method returns 0 or the errno.
/// </summary>
internal static unsafe class VfioFeature
{
    private const int CallSize = 16;

    private static int Call(SafeFdHandle device, uint flags, Span<byte> call)
    {
        HostOrder.WriteU32(call, 0, CallSize);
        HostOrder.WriteU32(call, 4, flags);
        fixed (byte* p = call)
            return LibC.Ioctl(device, VfioIoctl.DeviceFeature, p) == 0 ? 0 : LibC.LastErrno;
    }

    /// <summary>GET MIGRATION: the device's migration capability flags.</summary>
    internal static int GetMigrationFlags(SafeFdHandle device, out MigrationFeatures features)
    {
        Span<byte> call = stackalloc byte[CallSize];
        call.Clear();
        int errno = Call(device, VfioIoctl.FeatureGet | VfioIoctl.FeatureMigration, call);
        features = errno == 0 ? (MigrationFeatures)HostOrder.ReadU64(call, 8) : MigrationFeatures.None;
        return errno;
    }

    /// <summary>GET MIG_DEVICE_STATE.</summary>
    internal static int GetState(SafeFdHandle device, out MigrationState state)
    {
        Span<byte> call = stackalloc byte[CallSize];
        call.Clear();
        HostOrder.WriteS32(call, 12, -1);
        int errno = Call(device, VfioIoctl.FeatureGet | VfioIoctl.FeatureMigDeviceState, call);
        state = errno == 0 ? (MigrationState)HostOrder.ReadU32(call, 8) : MigrationState.Error;
        return errno;
    }

    /// <summary>SET MIG_DEVICE_STATE; <paramref name="dataFd"/> is the new session's fd or -1.</summary>
    internal static int SetState(SafeFdHandle device, MigrationState target, out int dataFd)
    {
        Span<byte> call = stackalloc byte[CallSize];
        call.Clear();
        HostOrder.WriteU32(call, 8, (uint)target);
        HostOrder.WriteS32(call, 12, -1); // input data_fd is ignored by the kernel; -1 keeps stale values out
        int errno = Call(device, VfioIoctl.FeatureSet | VfioIoctl.FeatureMigDeviceState, call);
        dataFd = errno == 0 ? HostOrder.ReadS32(call, 12) : -1;
        return errno;
    }

    /// <summary>GET MIG_DATA_SIZE: the estimated bytes STOP_COPY will produce.</summary>
    internal static int GetDataSize(SafeFdHandle device, out ulong stopCopyLength)
    {
        Span<byte> call = stackalloc byte[CallSize];
        call.Clear();
        int errno = Call(device, VfioIoctl.FeatureGet | VfioIoctl.FeatureMigDataSize, call);
        stopCopyLength = errno == 0 ? HostOrder.ReadU64(call, 8) : 0;
        return errno;
    }
}
