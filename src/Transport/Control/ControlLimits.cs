namespace StreamKit.Transport.Control;

/// <summary>Fixed limits of control protocol version 1 (spec/control-protocol.md §2, §3).</summary>
internal static class ControlLimits
{
    /// <summary>The protocol version this implementation speaks.</summary>
    internal const int Version = 1;

    /// <summary>Largest line, counting its terminating LF. A longer line is an error and closes the connection.</summary>
    internal const int MaxLineBytes = 64 * 1024;

    /// <summary>Most fds one line may carry (one SCM_RIGHTS message; more arrive as MSG_CTRUNC).</summary>
    internal const int MaxFdsPerLine = 8;

    /// <summary>Largest device name or driver hint in UTF-8 bytes (DEVICE_BEGIN's u16 length fields are capped at 255).</summary>
    internal const int MaxNameBytes = 255;

    /// <summary>Largest free-text member (cancel reason, commit message) in UTF-8 bytes.</summary>
    internal const int MaxTextBytes = 1024;

    /// <summary>Deepest JSON nesting accepted in a request.</summary>
    internal const int MaxJsonDepth = 8;

    /// <summary>Largest request id: 2^53 - 1, exact in every JSON implementation.</summary>
    internal const long MaxRequestId = (1L << 53) - 1;

    /// <summary>Bytes of unsent replies and events after which the peer counts as stuck and is disconnected.</summary>
    internal const int MaxPendingOutputBytes = 4 * 1024 * 1024;
}
