namespace StreamKit.Transport;

/// <summary>Where a migration is.</summary>
public enum MigrationPhase
{
    /// <summary>Opening the channels and exchanging preambles (receiver: waiting for the stream).</summary>
    Connecting,
    /// <summary>The VM runs; pre-copy data flows.</summary>
    PreCopy,
    /// <summary>Switchover decided: waiting for SWITCHOVER_ACK, quiescing (P2P) and stopping the devices.</summary>
    Switchover,
    /// <summary>The devices are stopped; their final state flows (the downtime window).</summary>
    StopCopy,
    /// <summary>Everything is sent; the destination verifies and commits (sender: waiting for FINAL_ACK).</summary>
    Committing,
    /// <summary>Every destination device committed.</summary>
    Completed,
    /// <summary>The migration failed; the failure rule was applied.</summary>
    Failed,
}

/// <summary>Per-chunk payload compression the sender applies (the receiver decodes whatever arrives).</summary>
public enum PayloadCompression
{
    /// <summary>Stored payloads (all-zero payloads still travel as ZERO_RUN).</summary>
    None,
    /// <summary>LZ4 blocks where they save at least 1/8 (needs liblz4 on both sides).</summary>
    Lz4,
}

/// <summary>Who decides when the source VM stops.</summary>
public enum SwitchoverMode
{
    /// <summary>The sender: when pending pre-copy bytes fall to the threshold, or the pre-copy time limit passes.</summary>
    Auto,
    /// <summary>The caller, with <see cref="MigrationSender.RequestSwitchover"/>.</summary>
    Manual,
}

/// <summary>Which part of the migration a failure came from.</summary>
public enum MigrationFailureOrigin
{
    /// <summary>This side: cancellation, a local limit, a bug.</summary>
    Local,
    /// <summary>The other side reported it (ABORT, ERROR, a non-zero FINAL_ACK) or sent an invalid stream.</summary>
    Peer,
    /// <summary>A source device failed (e.g. a reset during STOP_COPY, a read error).</summary>
    SourceDevice,
    /// <summary>A destination device refused the state (write error, commit failure).</summary>
    DestinationDevice,
    /// <summary>A connection failed, timed out, or could not be established (TLS included).</summary>
    Transport,
}
