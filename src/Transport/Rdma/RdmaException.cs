namespace StreamKit.Transport.Rdma;

/// <summary>What went wrong on an RDMA connection.</summary>
public enum RdmaErrorKind
{
    /// <summary>libibverbs.so.1 or librdmacm.so.1 cannot be loaded (Debian packages libibverbs1, librdmacm1, ibverbs-providers).</summary>
    LibraryMissing,
    /// <summary>The libraries load, but the kernel or the providers expose no RDMA device.</summary>
    NoDevice,
    /// <summary>The address is not reachable through (or not bound to) an RDMA device.</summary>
    AddressResolution,
    /// <summary>The peer refused the connection: nothing listens there, or it rejected our parameters.</summary>
    ConnectionRejected,
    /// <summary>The peer did not answer in time, or is unreachable.</summary>
    ConnectTimeout,
    /// <summary>The peer closed or lost the connection before both streams ended (peer died, aborted, or the link failed).</summary>
    PeerDisconnected,
    /// <summary>The peer broke the transport protocol (bad private data, credit overrun, unknown message kind).</summary>
    ProtocolViolation,
    /// <summary>A work request failed on the adapter (retries exhausted, local error).</summary>
    WorkRequestFailed,
    /// <summary>A verbs or connection-manager call failed while setting up resources.</summary>
    SetupFailed,
    /// <summary>The channel was closed locally, or used after it ended.</summary>
    Closed,
}

/// <summary>
/// A typed RDMA transport failure. Derives from <see cref="IOException"/> so generic transport
/// code that handles connection failures handles these too.
/// </summary>
public sealed class RdmaException : IOException
{
    /// <summary>Creates the exception.</summary>
    public RdmaException(RdmaErrorKind kind, string message, int errno = 0, Exception? inner = null)
        : base(Format(kind, message, errno), inner)
    {
        Kind = kind;
        Errno = errno;
        Detail = message;
    }

    private string Detail { get; }

    /// <summary>What failed.</summary>
    public RdmaErrorKind Kind { get; }

    /// <summary>The errno (or IB status) behind the failure, 0 if none.</summary>
    public int Errno { get; }

    private static string Format(RdmaErrorKind kind, string message, int errno) =>
        errno == 0 ? $"RDMA {kind}: {message}" : $"RDMA {kind}: {message} (errno {errno}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary>The same failure again, for another caller (keeps this one, with its stack, as the inner exception).</summary>
    internal RdmaException Rethrown() => new(Kind, Detail, Errno, this);

    internal static RdmaException FromErrno(RdmaErrorKind kind, string what) =>
        new(kind, what, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
}
