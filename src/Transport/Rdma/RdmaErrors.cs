namespace StreamKit.Transport.Rdma;

/// <summary>Maps typed RDMA failures onto the transport's error kinds, keeping the RDMA exception inside.</summary>
internal static class RdmaErrors
{
    internal static TransportException ToTransport(RdmaException e, string? endpoint) =>
        new(Kind(e.Kind), e.Message, endpoint, e);

    internal static TransportErrorKind Kind(RdmaErrorKind kind) => kind switch
    {
        RdmaErrorKind.LibraryMissing or RdmaErrorKind.NoDevice => TransportErrorKind.NotAvailable,
        RdmaErrorKind.AddressResolution => TransportErrorKind.Unreachable,
        RdmaErrorKind.ConnectionRejected => TransportErrorKind.ConnectionRefused,
        RdmaErrorKind.ConnectTimeout => TransportErrorKind.Timeout,
        RdmaErrorKind.PeerDisconnected => TransportErrorKind.ConnectionReset,
        RdmaErrorKind.ProtocolViolation => TransportErrorKind.IoFailed,
        RdmaErrorKind.Closed => TransportErrorKind.Aborted,
        _ => TransportErrorKind.IoFailed,
    };
}
