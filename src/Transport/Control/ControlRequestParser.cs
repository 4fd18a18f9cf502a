using System.Text.Json;
using System.Text.Unicode;
using StreamKit.Device;

namespace StreamKit.Transport.Control;

/// <summary>
/// Turns one line (plus the fds that came with it) into a typed <see cref="ControlRequest"/>.
/// Every malformed input ends in a <see cref="ControlRequestException"/>; nothing else escapes
/// (checked by <see cref="Fuzz"/>). Fd arity is checked here; per-device rules (which fd a
/// stop-copy needs, duplicate ids) belong to the handler, which knows the devices.
/// </summary>
internal static class ControlRequestParser
{
    private static readonly JsonDocumentOptions Options = new()
    {
        MaxDepth = ControlLimits.MaxJsonDepth,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    /// <summary>Ops of both roles, for wrong-role versus unknown-op.</summary>
    private static readonly string[] SourceOnly = ["precopy-info", "stop-copy", "discard", "switchover"];
    private static readonly string[] DestinationOnly = ["resume-fd", "commit-result"];

    /// <summary>True for a line the protocol ignores: empty or JSON whitespace only.</summary>
    internal static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r"u8) < 0;

    /// <summary>Parses a request for a server of <paramref name="role"/>.</summary>
    /// <exception cref="ControlRequestException">The line is not a valid request; <see cref="ControlRequestException.RequestId"/> is set when the id was readable.</exception>
    internal static ControlRequest Parse(ReadOnlyMemory<byte> line, IReadOnlyList<PassedFd> fds, ControlRole role)
    {
        var span = line.Span;
        if (!Utf8.IsValid(span))
            throw new ControlRequestException(ControlErrorCode.BadJson, $"the line is not valid UTF-8 (first bad byte at {FirstInvalidUtf8(span)})");
        if (span.StartsWith("\uFEFF"u8))
            throw new ControlRequestException(ControlErrorCode.BadJson, "the line starts with a byte order mark");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, Options);
        }
        catch (JsonException e)
        {
            throw new ControlRequestException(ControlErrorCode.BadJson, $"not valid JSON: {e.Message}", inner: e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ControlRequestException(ControlErrorCode.BadJson, "a request must be a JSON object");
            long id = ReadId(root);
            try
            {
                return ParseOp(root, id, fds, role);
            }
            catch (ControlRequestException e)
            {
                throw e.WithRequestId(id);
            }
        }
    }

    /// <summary>Reads just the id of a line, for error replies to lines rejected before parsing; null when unreadable.</summary>
    internal static long? TryReadId(ReadOnlyMemory<byte> line)
    {
        if (!Utf8.IsValid(line.Span)) return null;
        try
        {
            using var document = JsonDocument.Parse(line, Options);
            return document.RootElement.ValueKind == JsonValueKind.Object ? ReadId(document.RootElement) : null;
        }
        catch (Exception e) when (e is JsonException or ControlRequestException)
        {
            return null;
        }
    }

    private static long ReadId(JsonElement root)
    {
        if (!root.TryGetProperty("id", out var id) || id.ValueKind == JsonValueKind.Null)
            throw new ControlRequestException(ControlErrorCode.MissingField, "\"id\" is required in every request", "id");
        if (id.ValueKind != JsonValueKind.Number)
            throw new ControlRequestException(ControlErrorCode.BadType, "\"id\" must be an integer", "id");
        if (!id.TryGetInt64(out long value) || value < 0 || value > ControlLimits.MaxRequestId)
            throw new ControlRequestException(ControlErrorCode.BadValue, "\"id\" must be an integer 0-9007199254740991", "id");
        return value;
    }

    private static ControlRequest ParseOp(JsonElement root, long id, IReadOnlyList<PassedFd> fds, ControlRole role)
    {
        if (!root.TryGetProperty("op", out var opElement) || opElement.ValueKind == JsonValueKind.Null)
            throw new ControlRequestException(ControlErrorCode.MissingField, "\"op\" is required in every request", "op");
        if (opElement.ValueKind != JsonValueKind.String)
            throw new ControlRequestException(ControlErrorCode.BadType, "\"op\" must be a string", "op");
        string op;
        try
        {
            op = opElement.GetString() ?? "";
        }
        catch (InvalidOperationException e)
        {
            // An escape that decodes to invalid UTF-16 (a lone surrogate such as "\udc00").
            throw new ControlRequestException(ControlErrorCode.BadValue, "\"op\" is not valid Unicode text", "op", inner: e);
        }
        var f = new JsonFields(root, op, id);

        ControlRequest request = op switch
        {
            "hello" => new HelloRequest(id, f.RequiredInt32("version", 0, int.MaxValue), f.OptionalString("client", ControlLimits.MaxNameBytes)),
            "start" => new StartRequest(id),
            "status" => new StatusRequest(id),
            "cancel" => new CancelRequest(id, f.OptionalString("reason", ControlLimits.MaxTextBytes)),
            "add-device" when role == ControlRole.Source => SourceAddDevice(f, id, fds),
            "add-device" => new DestinationAddDeviceRequest(id, f.RequiredDevice(), f.OptionalString("name", ControlLimits.MaxNameBytes),
                OptionalFlags(f), SingleFd(op, fds, required: true)!),
            "precopy-info" when role == ControlRole.Source =>
                new PrecopyInfoRequest(id, f.RequiredDevice(), new PrecopyInfo(f.RequiredUInt64("initial_bytes"), f.RequiredUInt64("dirty_bytes"))),
            "stop-copy" when role == ControlRole.Source =>
                new StopCopyRequest(id, f.RequiredDevice(), f.OptionalUInt64("stop_copy_estimate"), SingleFd(op, fds, required: false)),
            "discard" when role == ControlRole.Source =>
                new DiscardRequest(id, f.RequiredDevice(), f.OptionalUInt64("stop_copy_estimate"), OptionalPrecopy(f), SingleFd(op, fds, required: true)!),
            "switchover" when role == ControlRole.Source => new SwitchoverRequest(id, f.OptionalBool("wait_ack", true)),
            "resume-fd" when role == ControlRole.Destination =>
                new ResumeFdRequest(id, f.RequiredDevice(), f.RequiredUInt32("epoch"), SingleFd(op, fds, required: true)!),
            "commit-result" when role == ControlRole.Destination => CommitResult(f, id),
            _ when Array.IndexOf(role == ControlRole.Source ? DestinationOnly : SourceOnly, op) >= 0 =>
                throw new ControlRequestException(ControlErrorCode.WrongRole, $"\"{op}\" is a {(role == ControlRole.Source ? "destination" : "source")} op; this server is the {role.Name()}", "op"),
            _ => throw new ControlRequestException(ControlErrorCode.UnknownOp, $"unknown op \"{Printable(op)}\"", "op"),
        };
        if (request.Fds.Count == 0 && fds.Count > 0)
            throw new ControlRequestException(ControlErrorCode.UnexpectedFd, $"{op} takes no fd, {fds.Count} attached");
        return request;
    }

    private static SourceAddDeviceRequest SourceAddDevice(JsonFields f, long id, IReadOnlyList<PassedFd> fds)
    {
        ushort device = f.RequiredDevice();
        string name = f.RequiredString("name", 1, ControlLimits.MaxNameBytes);
        string driver = f.OptionalString("driver", ControlLimits.MaxNameBytes) ?? "";
        _ = f.RequiredUInt64("migration_flags");
        var flags = OptionalFlags(f)!.Value;
        ulong? estimate = f.OptionalUInt64("stop_copy_estimate");
        bool ioctl = f.OptionalBool("precopy_ioctl", true);
        PrecopyInfo? precopy = OptionalPrecopy(f);
        PassedFd? fd = SingleFd("add-device", fds, required: false);
        if (fd is not null && (flags & MigrationFeatures.PreCopy) == 0)
            throw new ControlRequestException(ControlErrorCode.UnexpectedFd, "add-device: a PRE_COPY fd was attached but \"migration_flags\" lacks VFIO_MIGRATION_PRE_COPY (4)");
        if (fd is not null && !ioctl && precopy is null)
            throw new ControlRequestException(ControlErrorCode.MissingField, "add-device: \"initial_bytes\" is required with \"precopy_ioctl\": false", "initial_bytes");
        return new SourceAddDeviceRequest(id, device, name, driver, flags, estimate, ioctl, precopy, fd);
    }

    private static MigrationFeatures? OptionalFlags(JsonFields f)
    {
        if (f.OptionalUInt64("migration_flags") is not { } value) return null;
        var flags = (MigrationFeatures)value;
        if ((flags & MigrationFeatures.StopCopy) == 0)
            throw new ControlRequestException(ControlErrorCode.BadValue, "add-device: \"migration_flags\" must include VFIO_MIGRATION_STOP_COPY (1)", "migration_flags");
        return flags;
    }

    private static PrecopyInfo? OptionalPrecopy(JsonFields f)
    {
        ulong? initial = f.OptionalUInt64("initial_bytes");
        ulong? dirty = f.OptionalUInt64("dirty_bytes");
        if (initial is null && dirty is null) return null;
        if (initial is null) throw new ControlRequestException(ControlErrorCode.MissingField, "\"initial_bytes\" must accompany \"dirty_bytes\"", "initial_bytes");
        return new PrecopyInfo(initial.Value, dirty ?? 0);
    }

    private static CommitResultRequest CommitResult(JsonFields f, long id)
    {
        ushort device = f.RequiredDevice();
        uint epoch = f.RequiredUInt32("epoch");
        bool ok = f.RequiredBool("ok");
        int errno = f.OptionalInt32("errno", 0, 4095, 0);
        string? message = f.OptionalString("message", ControlLimits.MaxTextBytes);
        if (!ok && errno == 0)
            throw new ControlRequestException(ControlErrorCode.MissingField, "commit-result: \"errno\" (1-4095) is required with \"ok\": false", "errno");
        if (ok && errno != 0)
            throw new ControlRequestException(ControlErrorCode.BadValue, "commit-result: \"errno\" must be 0 or absent with \"ok\": true", "errno");
        return new CommitResultRequest(id, device, epoch, ok, errno, message);
    }

    private static PassedFd? SingleFd(string op, IReadOnlyList<PassedFd> fds, bool required)
    {
        if (fds.Count > 1) throw new ControlRequestException(ControlErrorCode.UnexpectedFd, $"{op} takes one fd, {fds.Count} attached");
        if (fds.Count == 0 && required) throw new ControlRequestException(ControlErrorCode.FdMissing, $"{op} needs its data_fd attached (SCM_RIGHTS)");
        return fds.Count == 0 ? null : fds[0];
    }

    private static string Printable(string text)
    {
        text = text.Length > 40 ? text[..40] + "…" : text;
        return string.Create(text.Length, text, static (span, s) =>
        {
            for (int i = 0; i < s.Length; i++) span[i] = char.IsControl(s[i]) ? '?' : s[i];
        });
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> span)
    {
        int offset = 0;
        while (offset < span.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(span[offset..], out _, out int consumed) != System.Buffers.OperationStatus.Done) return offset;
            offset += consumed;
        }
        return offset;
    }

    /// <summary>
    /// Fuzz entry: any bytes as one line (byte 0 picks the role and the stand-in fds). The checks live
    /// in <see cref="Fuzzing.ControlRequestFuzzTarget"/>; anything but the typed error propagates as a finding.
    /// </summary>
    internal static void Fuzz(ReadOnlySpan<byte> input) => Fuzzing.ControlRequestFuzzTarget.Fuzz(input);
}
