using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// A failed migration, thrown by <see cref="MigrationSender.RunAsync"/> and
/// <see cref="MigrationReceiver.RunAsync"/> after the failure rule was applied (source devices back to
/// RUNNING with their state, destination devices reset). <see cref="Code"/> is the wire error code
/// (the one sent in ABORT/ERROR), <see cref="Origin"/> says where it came from, <see cref="Reason"/> is
/// the operator's text.
/// </summary>
public sealed class MigrationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MigrationException(StreamErrorCode code, MigrationFailureOrigin origin, string reason, Exception? inner = null, StreamErrorCode? peerCode = null)
        : base($"migration failed ({origin}, {code}): {reason}", inner)
    {
        Code = code;
        Origin = origin;
        Reason = reason;
        PeerCode = peerCode;
    }

    /// <summary>The wire error code (e.g. <see cref="StreamErrorCode.PeerError"/>, <see cref="StreamErrorCode.DeviceRejected"/>).</summary>
    public StreamErrorCode Code { get; }

    /// <summary>Where the failure came from.</summary>
    public MigrationFailureOrigin Origin { get; }

    /// <summary>What happened, in words (for a peer's failure: the peer's text).</summary>
    public string Reason { get; }

    /// <summary>For <see cref="StreamErrorCode.PeerError"/> / <see cref="StreamErrorCode.PeerAborted"/>: the code the peer reported.</summary>
    public StreamErrorCode? PeerCode { get; }
}
