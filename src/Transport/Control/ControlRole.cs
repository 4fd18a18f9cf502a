namespace StreamKit.Transport.Control;

/// <summary>Which side of a migration a control server drives.</summary>
internal enum ControlRole
{
    /// <summary>`streamkit send`: reads source devices' saving data_fds.</summary>
    Source,
    /// <summary>`streamkit receive`: writes destination devices' resuming data_fds.</summary>
    Destination,
}

/// <summary>Wire names of <see cref="ControlRole"/>.</summary>
internal static class ControlRoles
{
    /// <summary>"source" or "destination".</summary>
    internal static string Name(this ControlRole role) => role == ControlRole.Source ? "source" : "destination";
}
