namespace StreamKit.Transport.Control;

/// <summary>
/// Why a control request was refused (spec/control-protocol.md §9). Each travels as its
/// kebab-case name in <c>error.code</c>; the names are the protocol, the numbers are not.
/// </summary>
internal enum ControlErrorCode
{
    /// <summary>"bad-json": not UTF-8, not JSON, not an object, duplicate member, nested too deep.</summary>
    BadJson,
    /// <summary>"line-too-long": a line over 65536 bytes; the connection is closed after the reply.</summary>
    LineTooLong,
    /// <summary>"unknown-op": the op is not one this version defines.</summary>
    UnknownOp,
    /// <summary>"wrong-role": the op exists but belongs to the other role.</summary>
    WrongRole,
    /// <summary>"missing-field": a required member is absent (or null).</summary>
    MissingField,
    /// <summary>"bad-type": a member has the wrong JSON type.</summary>
    BadType,
    /// <summary>"bad-value": right type, value out of range or inconsistent.</summary>
    BadValue,
    /// <summary>"hello-required": the first request must be hello.</summary>
    HelloRequired,
    /// <summary>"unsupported-version": the client's version is older than any the server speaks.</summary>
    UnsupportedVersion,
    /// <summary>"duplicate-device": add-device for an id already added.</summary>
    DuplicateDevice,
    /// <summary>"unknown-device": the device id was never added.</summary>
    UnknownDevice,
    /// <summary>"bad-state": valid request, wrong moment (before start, after the end, phase mismatch).</summary>
    BadState,
    /// <summary>"fd-missing": the request needs an fd and none was attached.</summary>
    FdMissing,
    /// <summary>"unexpected-fd": fds attached to a request that takes none (or fewer), or not attached to the line's first byte.</summary>
    UnexpectedFd,
    /// <summary>"too-many-fds": more than 8 fds were attached; the kernel truncated them (MSG_CTRUNC).</summary>
    TooManyFds,
    /// <summary>"busy": another control connection is active.</summary>
    Busy,
    /// <summary>"permission-denied": the peer's uid is neither the server's nor root.</summary>
    PermissionDenied,
    /// <summary>"cancelled": the request was pending when the migration was cancelled or ended.</summary>
    Cancelled,
    /// <summary>"operation-failed": a valid request whose execution failed (message says why).</summary>
    OperationFailed,
    /// <summary>"internal-error": a bug in StreamKit; the message carries the exception text.</summary>
    InternalError,
}

/// <summary>Wire names of <see cref="ControlErrorCode"/>.</summary>
internal static class ControlErrorCodes
{
    private static readonly string[] Names =
    [
        "bad-json", "line-too-long", "unknown-op", "wrong-role", "missing-field", "bad-type", "bad-value",
        "hello-required", "unsupported-version", "duplicate-device", "unknown-device", "bad-state",
        "fd-missing", "unexpected-fd", "too-many-fds", "busy", "permission-denied", "cancelled",
        "operation-failed", "internal-error",
    ];

    /// <summary>The kebab-case name sent in <c>error.code</c>.</summary>
    internal static string Name(this ControlErrorCode code) =>
        (uint)code < (uint)Names.Length ? Names[(int)code] : "internal-error";

    /// <summary>Parses a wire name (for the client); null when unknown.</summary>
    internal static ControlErrorCode? Parse(string? name)
    {
        int i = name is null ? -1 : Array.IndexOf(Names, name);
        return i < 0 ? null : (ControlErrorCode)i;
    }

    /// <summary>Every code, in declaration order.</summary>
    internal static IReadOnlyList<ControlErrorCode> All { get; } = Enum.GetValues<ControlErrorCode>();
}
