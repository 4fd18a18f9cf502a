namespace StreamKit.Device.Vfio;

/// <summary>Names a VFIO device and its driver from sysfs (best effort: hints, never required).</summary>
internal static class VfioSysfs
{
    internal const string UnknownDriver = "vfio";

    /// <summary>
    /// For <c>/dev/vfio/devices/vfioN</c>: the device's sysfs name (mdev uuid or PCI address) from
    /// <c>/sys/class/vfio-dev/vfioN/device</c>, and its driver.
    /// </summary>
    internal static (string Name, string Driver) DescribeCdev(string cdevPath)
    {
        string node = Path.GetFileName(cdevPath);
        string? deviceDir = RealPath($"/sys/class/vfio-dev/{node}/device");
        if (deviceDir is null) return (cdevPath, UnknownDriver);
        return (Path.GetFileName(deviceDir), DriverOf(deviceDir));
    }

    /// <summary>For a device in group <c>/dev/vfio/N</c>: its driver, from <c>/sys/kernel/iommu_groups/N/devices/NAME</c>.</summary>
    internal static string DescribeGroupDevice(string groupPath, string deviceName) =>
        DriverOf($"/sys/kernel/iommu_groups/{Path.GetFileName(groupPath)}/devices/{deviceName}");

    private static string DriverOf(string deviceDir)
    {
        string? driver = RealPath(Path.Combine(deviceDir, "driver"));
        return driver is null ? UnknownDriver : Path.GetFileName(driver);
    }

    /// <summary>
    /// realpath(3) in managed code: resolves every component, so a relative link target (sysfs uses
    /// them everywhere: "../../devices/…") is taken relative to its real directory. Null if missing.
    /// </summary>
    internal static string? RealPath(string path, int depth = 0)
    {
        if (depth > 16) return null;
        try
        {
            string current = "/";
            foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == ".") continue;
                if (part == "..") { current = Path.GetDirectoryName(current) ?? "/"; continue; }
                string next = Path.Combine(current, part);
                var info = new FileInfo(next);
                if (info.LinkTarget is { } target)
                {
                    string? resolved = RealPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target), depth + 1);
                    if (resolved is null) return null;
                    next = resolved;
                }
                else if (!info.Exists && !Directory.Exists(next))
                {
                    return null;
                }
                current = next;
            }
            return current;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
