namespace StreamKit.Transport;

/// <summary>
/// The one exception the transport throws for connection failures: a <see cref="Kind"/>, the
/// endpoint it concerns, and a message that says what happened in words an operator can act on.
/// Cancellation by the caller's token is reported as <see cref="OperationCanceledException"/> instead.
/// </summary>
public sealed class TransportException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">The classified failure.</param>
    /// <param name="message">What happened, without the kind or endpoint (they are prepended).</param>
    /// <param name="endpoint">The peer or path concerned, if known.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public TransportException(TransportErrorKind kind, string message, string? endpoint = null, Exception? inner = null)
        : base(endpoint is null ? $"{kind}: {message}" : $"{kind} ({endpoint}): {message}", inner)
    {
        Kind = kind;
        Detail = message;
        Endpoint = endpoint;
    }

    /// <summary>The classified failure.</summary>
    public TransportErrorKind Kind { get; }

    /// <summary>The message without the kind and endpoint prefix.</summary>
    public string Detail { get; }

    /// <summary>The peer (host:port, socket path, file path) the failure concerns; null if none.</summary>
    public string? Endpoint { get; }

    /// <summary>
    /// A fresh exception with the same kind, detail and endpoint, this one as inner: used to
    /// report a stored abort reason to every later caller without rethrowing (and re-stacking) one instance.
    /// </summary>
    internal TransportException Echo() => new(Kind, Detail, Endpoint, this);
}
