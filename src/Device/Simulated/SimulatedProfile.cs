namespace StreamKit.Device;

/// <summary>Which real driver a <see cref="SimulatedDevice"/> behaves like.</summary>
public enum SimulatedProfile
{
    /// <summary>
    /// The kernel's mtty sample: a 24-byte header (u64 magic 0x7e9d09898c3e2c4e, u32 major 1, u32 minor 0,
    /// u32 nr_ports, u32 flags 0) then 36 bytes per port. PRE_COPY yields only the header; 0-byte reads
    /// end pre-copy; EFAULT on a bad header, ENOMEM past the image, EINVAL at commit when short.
    /// </summary>
    Mtty,
    /// <summary>
    /// mlx5_vfio_pci: 16-byte record headers (u64 record_size, u32 flags, u32 tag); FW_DATA records carry
    /// the state; ENOMSG ends pre-copy; new dirty data only from inside the pre-copy info ioctl.
    /// </summary>
    Mlx5,
    /// <summary>hisi_acc_vfio_pci: PRE_COPY carries only compatibility ("match") data, checked on write (EFAULT).</summary>
    Hisi,
    /// <summary>GiBs of page state generated on the fly, never held in memory, for transport benchmarks.</summary>
    Bulk,
}
