namespace StreamKit.Device;

/// <summary>
/// A device SPEC string (e.g. <c>sim:profile=mlx5,size=2GiB,seed=1</c>) could not be parsed:
/// names the offending key and the text so the CLI can point at it.
/// </summary>
public sealed class DeviceSpecException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public DeviceSpecException(string spec, string? key, string reason)
        : base(key is null ? $"bad device spec '{spec}': {reason}" : $"bad device spec '{spec}', key '{key}': {reason}")
    {
        Spec = spec;
        Key = key;
        Reason = reason;
    }

    /// <summary>The whole SPEC string.</summary>
    public string Spec { get; }

    /// <summary>The key at fault, or null when the problem is not tied to one key.</summary>
    public string? Key { get; }

    /// <summary>What is wrong, without the spec text.</summary>
    public string Reason { get; }
}
