namespace StreamKit.Transport.Control;

/// <summary>
/// The one exception the control layer's parser and handlers use to refuse a request: a code from
/// the spec, a message for humans, the offending member (if any) and the request id (if it was
/// readable). The connection turns it into an error reply; it never ends the connection by itself.
/// </summary>
internal sealed class ControlRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    internal ControlRequestException(ControlErrorCode code, string message, string? field = null, long? requestId = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Field = field;
        RequestId = requestId;
    }

    /// <summary>The spec's error code.</summary>
    internal ControlErrorCode Code { get; }

    /// <summary>The request member at fault, if one is.</summary>
    internal string? Field { get; }

    /// <summary>The request's id when it could be read (replies echo it; null otherwise).</summary>
    internal long? RequestId { get; }

    /// <summary>A copy carrying <paramref name="id"/>.</summary>
    internal ControlRequestException WithRequestId(long? id) =>
        RequestId == id ? this : new ControlRequestException(Code, Message, Field, id, InnerException);
}
