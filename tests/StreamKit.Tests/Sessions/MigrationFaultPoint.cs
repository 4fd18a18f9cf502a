namespace StreamKit.Tests.Sessions;

/// <summary>
/// Named places where the fault-injection matrix (<see cref="FailureRuleTests"/>) breaks a migration, as
/// Garnet names its fault points. Each cell of the matrix is one point with one parameter (a byte
/// offset, a channel, a variant); docs/robustness.md lists the cells and what each side reported.
/// </summary>
public enum MigrationFaultPoint
{
    /// <summary>The sender's connection (channel 0, forward direction) is reset once N bytes went through.</summary>
    SenderConnectionDrop,
    /// <summary>The receiver's side of channel 0 (the return path) is reset once N return-path bytes went through.</summary>
    ReceiverConnectionDrop,
    /// <summary>One channel of three is reset mid-stream; the other two stay up.</summary>
    ChannelLost,
    /// <summary>The receiver end stops reading at byte N: the sender's sends stall; its memory must stay bounded.</summary>
    ReceiverStopsReading,
    /// <summary>A bit of one forward byte flips in flight (the CRCs must catch it before any device write).</summary>
    BitFlipInFlight,
    /// <summary>The source device is reset while PRE_COPY data flows: DISCARD, re-send, success.</summary>
    ResetInPrecopy,
    /// <summary>The source device is reset during STOP_COPY: a clean failure.</summary>
    ResetInStopCopy,
    /// <summary>The destination device's data_fd write fails EFAULT.</summary>
    DestinationWriteEfault,
    /// <summary>The destination device's data_fd write fails ENOMEM.</summary>
    DestinationWriteEnomem,
    /// <summary>RESUMING → STOP (the commit) fails EINVAL on the destination.</summary>
    CommitEinval,
    /// <summary>TLS: the sender presents a client certificate from another CA.</summary>
    TlsBadClientCert,
    /// <summary>TLS: the receiver requires a client certificate and the sender has none.</summary>
    TlsMissingClientCert,
    /// <summary>Bytes right after a valid preamble are replaced by garbage in flight.</summary>
    GarbageAfterPreamble,
    /// <summary>The first chunk header is replaced in flight by a valid-CRC header announcing a ~4 GiB payload.</summary>
    OversizedLength,
    /// <summary>A peer trickles its preamble one byte at a time, slower than the handshake deadline allows.</summary>
    Slowloris,
    /// <summary>The receiver process dies mid-stream (disposed, or its token cancelled).</summary>
    ReceiverCrash,
    /// <summary>The sender process dies mid-stream (disposed, or its token cancelled).</summary>
    SenderCrash,
    /// <summary>The link freezes (nothing passes, nothing closes) in one direction: idle timeouts on both sides.</summary>
    HangingPeer,
}
