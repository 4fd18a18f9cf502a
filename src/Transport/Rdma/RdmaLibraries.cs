using System.Runtime.InteropServices;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// Checks, before any verbs call, that the RDMA user-space libraries load and that the system
/// has an RDMA device, and turns each missing piece into an <see cref="RdmaException"/> that
/// says what is missing and which Debian package provides it.
/// </summary>
internal static unsafe class RdmaLibraries
{
    internal const string PackageHint = "apt-get install ibverbs-providers librdmacm1";
    private const string SysfsDevices = "/sys/class/infiniband";

    private static readonly Lazy<RdmaException?> LibraryStatus =
        new(() => CheckLibraries(VerbsNative.Soname, CmNative.Soname));

    /// <summary>
    /// Throws unless both libraries load and at least one RDMA device is visible. The library
    /// check is done once; the device check each call (devices may appear later).
    /// </summary>
    /// <exception cref="RdmaException"><see cref="RdmaErrorKind.LibraryMissing"/> or <see cref="RdmaErrorKind.NoDevice"/>.</exception>
    internal static IReadOnlyList<string> EnsureAvailable()
    {
        if (LibraryStatus.Value is { } missing) throw missing;
        return ListDevices();
    }

    /// <summary>
    /// The library half of <see cref="EnsureAvailable"/> for arbitrary sonames, so the error a
    /// system without the packages gets can be produced (and tested) on any machine.
    /// </summary>
    /// <returns>Null when both load, else the error to throw.</returns>
    internal static RdmaException? CheckLibraries(string verbsSoname, string cmSoname)
    {
        if (!NativeLibrary.TryLoad(verbsSoname, out nint verbs))
            return new RdmaException(RdmaErrorKind.LibraryMissing,
                $"the RDMA verbs library {verbsSoname} cannot be loaded: install the Debian packages libibverbs1 " +
                $"and ibverbs-providers (the device drivers), and librdmacm1 for connection setup ({PackageHint})");
        NativeLibrary.Free(verbs);
        if (!NativeLibrary.TryLoad(cmSoname, out nint cm))
            return new RdmaException(RdmaErrorKind.LibraryMissing,
                $"the RDMA connection manager library {cmSoname} cannot be loaded: install the Debian package " +
                $"librdmacm1, and ibverbs-providers for the device drivers ({PackageHint})");
        NativeLibrary.Free(cm);
        return null;
    }

    /// <summary>Names of the RDMA devices libibverbs sees (e.g. mlx5_0, rxe0).</summary>
    /// <exception cref="RdmaException"><see cref="RdmaErrorKind.NoDevice"/> when there are none, with the likely reason.</exception>
    internal static IReadOnlyList<string> ListDevices()
    {
        int count = 0;
        nint* list = VerbsNative.ibv_get_device_list(&count);
        int errno = Marshal.GetLastPInvokeError();
        if (list == null || count == 0)
        {
            if (list != null) VerbsNative.ibv_free_device_list(list);
            throw NoDevice(errno, list == null);
        }
        try
        {
            var names = new string[count];
            for (int i = 0; i < count; i++)
                names[i] = Marshal.PtrToStringUTF8((nint)VerbsNative.ibv_get_device_name(list[i])) ?? $"device{i}";
            return names;
        }
        finally
        {
            VerbsNative.ibv_free_device_list(list);
        }
    }

    private static RdmaException NoDevice(int errno, bool listFailed)
    {
        string[] kernelDevices = Directory.Exists(SysfsDevices)
            ? Directory.GetFileSystemEntries(SysfsDevices).Select(Path.GetFileName).OfType<string>().ToArray()
            : [];
        string why = kernelDevices.Length > 0
            ? $"the kernel has RDMA device(s) {string.Join(", ", kernelDevices)} but no user-space provider drives them: " +
              $"install the Debian package ibverbs-providers ({PackageHint})"
            : "the kernel exposes no RDMA device (" + SysfsDevices + " is " + (Directory.Exists(SysfsDevices) ? "empty" : "absent") +
              "): load the adapter's driver (e.g. mlx5_ib), or for soft-RoCE: modprobe rdma_rxe && " +
              "rdma link add rxe0 type rxe netdev <interface>; the user-space side needs ibverbs-providers and librdmacm1";
        return new RdmaException(RdmaErrorKind.NoDevice, "no RDMA device found: " + why, listFailed ? errno : 0);
    }
}
