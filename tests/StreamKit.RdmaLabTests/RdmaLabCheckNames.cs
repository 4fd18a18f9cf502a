namespace StreamKit.RdmaLabTests;

/// <summary>
/// Every check the RDMA lab program runs by default, in order. Shared (linked) with
/// tests/StreamKit.Tests/Lab so the xunit side has one test per check; the program fails a run
/// whose checks differ from this list.
/// </summary>
internal static class RdmaLabCheckNames
{
    internal static readonly string[] All =
    [
        "library-missing", "device-present", "connect-refused", "connect-loopback-typed", "handshake-preamble",
        "transfer-1ch", "transfer-2ch", "flow-control-slow-receiver", "stream-adapter", "receive-in-place",
        "peer-closes-mid-stream", "peer-dies-mid-stream",
        "session-sim-2ch-discard", "session-mtty-a-to-b", "session-receiver-dies", "session-sender-dies",
        "cli-send-receive-rdma",
    ];
}
