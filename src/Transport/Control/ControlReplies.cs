using System.Text.Json;

namespace StreamKit.Transport.Control;

/// <summary>The result members of a successful reply (after <c>"id"</c> and <c>"ok":true</c>).</summary>
internal abstract record ControlReply
{
    /// <summary>Writes this reply's members into the open reply object.</summary>
    internal abstract void WriteFields(Utf8JsonWriter writer);
}

/// <summary>hello's reply: the version both sides now speak, the server's role and limits.</summary>
internal sealed record HelloReply(int Version, ControlRole Role, string Server) : ControlReply
{
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("version", Version);
        w.WriteString("role", Role.Name());
        w.WriteString("server", Server);
        w.WriteNumber("max_line", ControlLimits.MaxLineBytes);
        w.WriteNumber("max_fds", ControlLimits.MaxFdsPerLine);
    }
}

/// <summary>switchover's reply: whether the destination acknowledged the initial data first.</summary>
internal sealed record SwitchoverReply(bool Acknowledged) : ControlReply
{
    internal override void WriteFields(Utf8JsonWriter w) => w.WriteBoolean("acked", Acknowledged);
}

/// <summary>status's reply: the same members as a progress event.</summary>
internal sealed record StatusReply(ControlStatus Status) : ControlReply
{
    internal override void WriteFields(Utf8JsonWriter w) => Status.WriteFields(w);
}
