using System.Text;
using System.Text.Json;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>The pipelines the e2e command compares on the same device bytes.</summary>
internal static class E2eVariant
{
    /// <summary>MigrationSender → TCP → MigrationReceiver (framing, CRC32C, zero runs, optional LZ4, N channels).</summary>
    public const string StreamKit = "streamkit";

    /// <summary>Device read → Socket.Send / Socket.Receive → device write, no framing (N connections, implicit round-robin order).</summary>
    public const string Raw = "raw";

    /// <summary>Stream.CopyTo(NetworkStream) / NetworkStream.CopyTo(device stream), default sockets, one connection.</summary>
    public const string Naive = "naive";

    /// <summary><c>gen | lz4 -1 | socat</c> → <c>socat | lz4 -d | sink</c> (gen and sink are this program).</summary>
    public const string Lz4Socat = "lz4socat";
}

/// <summary>
/// What one child process of the e2e benchmark does. Passed as one base64 JSON argument so it survives
/// sh -c quoting in the lz4 | socat pipelines.
/// </summary>
internal sealed record E2eRunSpec
{
    public string Variant { get; init; } = E2eVariant.StreamKit;

    /// <summary>sender | receiver | gen | sink.</summary>
    public string Role { get; init; } = "sender";

    public long SizeBytes { get; init; } = 4L << 30;
    public double Zero { get; init; }
    public int ZeroRunPages { get; init; } = 1;
    public ulong Seed { get; init; } = 1;
    public int ChunkSize { get; init; } = 1 << 20;
    public int Channels { get; init; } = 1;
    public bool Lz4 { get; init; }
    public long ReassemblyCap { get; init; } = 64L << 20;

    /// <summary>Size of an untimed migration run first in the same pair of processes (JIT, pools); 0 = none.</summary>
    public long WarmupBytes { get; init; }

    /// <summary>SO_SNDBUF/SO_RCVBUF for raw (StreamKit's TransportOptions default, 4 MiB); 0 = kernel autotuning.</summary>
    public int SocketBuffer { get; init; } = 4 << 20;

    /// <summary>
    /// Emulated link: bytes per second through one token bucket on the sender (StreamKit's
    /// TransportOptions.BandwidthLimit, the same bucket class paced in raw's send loop); 0 = no limit.
    /// </summary>
    public long LinkRate { get; init; }

    /// <summary>Where control lines (WAITING/READY/DONE) go: stdout, or stderr when stdout carries data (gen).</summary>
    public bool ControlOnStderr { get; init; }

    /// <summary>The simulated device SPEC of a state of <paramref name="bytes"/>.</summary>
    public string DeviceSpec(long bytes) =>
        $"sim:profile=bulk,size={bytes / 4096 * 4096},seed={Seed},zero={Zero.ToString("R", System.Globalization.CultureInfo.InvariantCulture)},zero-run={ZeroRunPages}";

    public string Encode() => Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(this)));

    public static E2eRunSpec Decode(string arg) =>
        JsonSerializer.Deserialize<E2eRunSpec>(Encoding.UTF8.GetString(Convert.FromBase64String(arg)))
        ?? throw new ArgumentException("empty child spec");
}
