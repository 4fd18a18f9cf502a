using System.Globalization;
using StreamKit.Device;
using StreamKit.Device.Vfio;

namespace StreamKit.Cli;

/// <summary>How a device SPEC names its device.</summary>
internal enum DeviceSpecKind
{
    /// <summary><c>sim:profile=…</c>: an in-process simulated device.</summary>
    Simulated,
    /// <summary><c>vfio:/dev/vfio/devices/vfioN</c>: a VFIO device through its iommufd cdev.</summary>
    VfioCdev,
    /// <summary><c>vfio-group:/dev/vfio/N:NAME</c>: a VFIO device through the group/container API.</summary>
    VfioGroup,
}

/// <summary>
/// One parsed <c>--device</c> SPEC with its wire device id:
/// <code>
/// sim:KEY=VALUE,...[,id=N]                 spec/simulated-devices.md (profile=mtty|mlx5|hisi|bulk, size=, seed=, reset-at=40%, ...)
/// vfio:/dev/vfio/devices/vfioN[,id=N]      iommufd character device
/// vfio-group:/dev/vfio/N:NAME[,id=N]       group/container API; NAME = mdev uuid or PCI address (may contain ':')
/// </code>
/// Ids: a device without <c>id=</c> takes its position in the --device list (1, 2, …). Sender and
/// receiver must give the same device the same id: that is how DEVICE_BEGIN finds its destination.
/// </summary>
internal sealed record DeviceSpec(ushort Id, DeviceSpecKind Kind, string Text, SimulatedDeviceSpec? Simulated, string? Path, string? DeviceName)
{
    /// <summary>Grammar summary for --help.</summary>
    internal const string HelpText =
        "Device SPECs: sim:profile=mtty|mlx5|hisi|bulk[,size=64MiB][,seed=N][,reset-at=40%][,...] (spec/simulated-devices.md), " +
        "vfio:/dev/vfio/devices/vfioN, vfio-group:/dev/vfio/N:UUID-or-PCI-address. Append ,id=N to choose the wire device id " +
        "(default: the position in the --device list, 1..N); sender and receiver must use the same ids.";

    /// <summary>Parses every SPEC and assigns ids.</summary>
    /// <exception cref="CliUsageException">A SPEC is malformed, or two devices share an id.</exception>
    internal static IReadOnlyList<DeviceSpec> ParseAll(IReadOnlyList<string> specs)
    {
        if (specs.Count == 0) throw new CliUsageException("give at least one --device SPEC");
        if (specs.Count > ushort.MaxValue) throw new CliUsageException("too many devices");
        var list = new List<DeviceSpec>(specs.Count);
        var seen = new Dictionary<ushort, string>();
        for (int i = 0; i < specs.Count; i++)
        {
            var spec = Parse(specs[i], (ushort)(i + 1));
            if (!seen.TryAdd(spec.Id, spec.Text))
                throw new CliUsageException($"device id {spec.Id} is used by both '{seen[spec.Id]}' and '{spec.Text}' (give distinct id=N)");
            list.Add(spec);
        }
        return list;
    }

    /// <summary>Parses one SPEC; <paramref name="defaultId"/> applies when it has no <c>id=</c>.</summary>
    /// <exception cref="CliUsageException">The SPEC is malformed (the message names what is wrong).</exception>
    internal static DeviceSpec Parse(string text, ushort defaultId)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        int colon = trimmed.IndexOf(':');
        if (colon <= 0)
            throw new CliUsageException($"bad device SPEC '{text}': expected sim:KEY=VALUE,..., vfio:/dev/vfio/devices/vfioN or vfio-group:/dev/vfio/N:NAME");
        string scheme = trimmed[..colon].ToLowerInvariant();
        string body = trimmed[(colon + 1)..];
        (body, ushort? id) = TakeId(text, body);
        ushort deviceId = id ?? defaultId;
        switch (scheme)
        {
            case "sim":
                try
                {
                    return new DeviceSpec(deviceId, DeviceSpecKind.Simulated, text, SimulatedDeviceSpec.Parse(body), null, null);
                }
                catch (DeviceSpecException e)
                {
                    throw new CliUsageException(e.Key is null ? $"bad device SPEC '{text}': {e.Reason}" : $"bad device SPEC '{text}': {e.Key}: {e.Reason}");
                }
            case "vfio":
                if (!body.StartsWith('/'))
                    throw new CliUsageException($"bad device SPEC '{text}': vfio: needs an absolute path such as /dev/vfio/devices/vfio0");
                return new DeviceSpec(deviceId, DeviceSpecKind.VfioCdev, text, null, body, null);
            case "vfio-group":
            {
                // The group path (/dev/vfio/N) has no ':'; the device name (a PCI address) may.
                int split = body.IndexOf(':');
                if (!body.StartsWith('/') || split < 0 || split == body.Length - 1)
                    throw new CliUsageException($"bad device SPEC '{text}': expected vfio-group:/dev/vfio/N:NAME (NAME: mdev uuid or PCI address)");
                return new DeviceSpec(deviceId, DeviceSpecKind.VfioGroup, text, null, body[..split], body[(split + 1)..]);
            }
            default:
                throw new CliUsageException($"bad device SPEC '{text}': unknown kind '{scheme}' (sim, vfio, vfio-group)");
        }
    }

    /// <summary>Removes an <c>id=N</c> item from the comma-separated tail of a SPEC body.</summary>
    private static (string Body, ushort? Id) TakeId(string text, string body)
    {
        string[] parts = body.Split(',');
        ushort? id = null;
        var kept = new List<string>(parts.Length);
        foreach (string part in parts)
        {
            string item = part.Trim();
            if (item.StartsWith("id=", StringComparison.OrdinalIgnoreCase))
            {
                if (id is not null) throw new CliUsageException($"bad device SPEC '{text}': id given twice");
                string value = item[3..].Trim();
                if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ushort parsed) || parsed == 0)
                    throw new CliUsageException($"bad device SPEC '{text}': id '{value}' is not a device id 1-65535");
                id = parsed;
                continue;
            }
            kept.Add(part);
        }
        return (string.Join(',', kept), id);
    }

    /// <summary>Opens (or, for sim:, creates) the device.</summary>
    /// <exception cref="DeviceException">A VFIO device cannot be opened or has no usable migration support.</exception>
    internal IMigrationDevice Open() => Kind switch
    {
        DeviceSpecKind.Simulated => new SimulatedDevice(Simulated!),
        DeviceSpecKind.VfioCdev => VfioDevice.OpenCdev(Path!),
        _ => VfioDevice.OpenGroup(Path!, DeviceName!),
    };

    /// <summary>Opens every device in order; on failure closes the ones already open.</summary>
    internal static IReadOnlyList<OpenDevice> OpenAll(IReadOnlyList<DeviceSpec> specs)
    {
        var opened = new List<OpenDevice>(specs.Count);
        try
        {
            foreach (var spec in specs) opened.Add(new OpenDevice(spec, spec.Open()));
            return opened;
        }
        catch
        {
            foreach (var d in opened) d.Device.Dispose();
            throw;
        }
    }
}

/// <summary>A device opened from its SPEC.</summary>
internal sealed record OpenDevice(DeviceSpec Spec, IMigrationDevice Device)
{
    /// <summary>The simulated device behind this entry, if it is one (its state digest goes into results).</summary>
    internal SimulatedDevice? Simulated => Device as SimulatedDevice ?? (Device as ResetInjectingDevice)?.Inner as SimulatedDevice;
}
