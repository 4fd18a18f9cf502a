using System.Net.Sockets;
using System.Security.Authentication;

namespace StreamKit.Transport;

/// <summary>
/// Turns OS and framework exceptions into <see cref="TransportException"/> once, at the point
/// where a transport operation fails (the role of Kestrel's <c>IsConnectionResetError</c>).
/// </summary>
internal static class TransportErrors
{
    /// <summary>The kind for a socket error code.</summary>
    internal static TransportErrorKind Classify(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => TransportErrorKind.ConnectionRefused,
        SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData or SocketError.HostUnreachable
            or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.NetworkDown => TransportErrorKind.Unreachable,
        SocketError.AddressAlreadyInUse => TransportErrorKind.AddressInUse,
        SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported => TransportErrorKind.InvalidAddress,
        SocketError.TimedOut => TransportErrorKind.Timeout,
        // On Unix EPIPE surfaces as Shutdown; ENOTCONN as NotConnected: both mean the peer is gone.
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown or SocketError.NetworkReset
            or SocketError.NotConnected or SocketError.Disconnecting => TransportErrorKind.ConnectionReset,
        SocketError.OperationAborted or SocketError.Interrupted => TransportErrorKind.Aborted,
        _ => TransportErrorKind.IoFailed,
    };

    /// <summary>Describes a socket error for humans (the OS text plus the symbolic name).</summary>
    private static string Describe(SocketException e) => $"{e.Message} ({e.SocketErrorCode})";

    /// <summary>
    /// Classifies any exception from a transport operation. <paramref name="operation"/> says what
    /// was being done ("send", "receive", "connect", "TLS handshake") and starts the message.
    /// </summary>
    internal static TransportException Classify(Exception e, string operation, string? endpoint)
    {
        switch (e)
        {
            case TransportException t:
                return t;
            case SocketException s:
                return new TransportException(Classify(s.SocketErrorCode), $"{operation} failed: {Describe(s)}", endpoint, s);
            case AuthenticationException a:
                return new TransportException(TransportErrorKind.TlsFailed, $"{operation} failed: {a.Message}", endpoint, a);
            case IOException { InnerException: SocketException s }:
                return new TransportException(Classify(s.SocketErrorCode), $"{operation} failed: {Describe(s)}", endpoint, e);
            case IOException { InnerException: AuthenticationException a }:
                return new TransportException(TransportErrorKind.TlsFailed, $"{operation} failed: {a.Message}", endpoint, e);
            case ObjectDisposedException:
                return new TransportException(TransportErrorKind.Aborted, $"{operation} failed: the connection was closed locally", endpoint, e);
            case OperationCanceledException:
                return new TransportException(TransportErrorKind.Aborted, $"{operation} was cancelled", endpoint, e);
            case TimeoutException:
                return new TransportException(TransportErrorKind.Timeout, $"{operation} timed out", endpoint, e);
            case UnauthorizedAccessException:
                return new TransportException(TransportErrorKind.IoFailed, $"{operation} failed: permission denied: {e.Message}", endpoint, e);
            case IOException:
                return new TransportException(TransportErrorKind.IoFailed, $"{operation} failed: {e.Message}", endpoint, e);
            default:
                return new TransportException(TransportErrorKind.IoFailed, $"{operation} failed: {e.GetType().Name}: {e.Message}", endpoint, e);
        }
    }
}
