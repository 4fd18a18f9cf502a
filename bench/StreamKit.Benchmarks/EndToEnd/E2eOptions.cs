using System.Globalization;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>Command line of <c>e2e</c> (see <see cref="Usage"/>).</summary>
internal sealed record E2eOptions
{
    public long SizeBytes { get; init; } = 4L << 30;
    public double[] Zero { get; init; } = [0, 0.5];

    /// <summary>Zero pages come in aligned runs of this many pages (the sim's zero-run key); 1 = scattered pages.</summary>
    public int[] ZeroRun { get; init; } = [1];
    public int[] Chunk { get; init; } = [64 << 10, 1 << 20, 4 << 20];
    public int[] Channels { get; init; } = [1, 2, 4];
    public bool[] Lz4 { get; init; } = [false, true];
    public string Matrix { get; init; } = "axes";
    public int Repeat { get; init; } = 3;
    public string[] Variants { get; init; } = [E2eVariant.Raw, E2eVariant.Naive, E2eVariant.StreamKit, E2eVariant.Lz4Socat];
    public long WarmupBytes { get; init; } = 64L << 20;
    public long ReassemblyCap { get; init; } = 64L << 20;
    public ulong Seed { get; init; } = 1;
    public int SocketBuffer { get; init; } = 4 << 20;
    public long LinkRate { get; init; }
    public string OutDirectory { get; init; } = "bench/results";
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromMinutes(10);
    public bool Verbose { get; init; }

    /// <summary>steady: children run with DOTNET_TieredCompilation=0 and DOTNET_ReadyToRun=0 (every method, the
    /// framework's included, JIT-compiled at full optimization before the timed run, no background re-JIT during it);
    /// default: the runtime's tiered JIT (a first migration in a fresh process).</summary>
    public string Jit { get; init; } = "steady";

    public const string Usage = """
        e2e: end-to-end migration throughput: bulk simulated device → sender → TCP loopback → receiver → simulated device,
        next to a raw socket copy, a naive Stream.CopyTo and lz4 | socat on the same device bytes. Sender and receiver
        run in separate processes (this program re-invoked with e2e-child).

          --size BYTES         device state per run (default 4GiB; suffixes KiB MiB GiB)
          --zero LIST          zero-page fractions (default 0,0.5)
          --zero-run LIST      zero pages come in aligned runs of that many pages (default 1: each page decided
                               alone, the worst case for zero-run elision; 16 = 64 KiB zero regions); every zero
                               fraction > 0 runs once per value
          --chunk LIST         chunk / buffer sizes (default 64KiB,1MiB,4MiB)
          --channels LIST      TCP channels (default 1,2,4; naive and lz4|socat only run with 1)
          --lz4 LIST           off,on (default both): StreamKit with LZ4 and the lz4|socat pipeline
          --matrix axes|full   axes (default): vary one dimension at a time around 1 MiB / 1 channel / zero 0
                               (zero fractions and LZ4 at the base point); full: every combination
          --repeat N           runs per configuration (default 3); reported: median and best
          --variants LIST      raw,naive,streamkit,lz4socat (default all)
          --warmup BYTES       untimed transfer first in the same processes (default 64MiB; 0 = none)
          --cap BYTES          receiver reassembly cap (default 64MiB)
          --seed N             device seed (default 1)
          --socket-buffer BYTES  SO_SNDBUF/SO_RCVBUF of raw and StreamKit (default 4MiB, StreamKit's TransportOptions
                               default; 0 = kernel autotuning); naive always autotunes
          --link-rate BYTES    emulate a link of BYTES per second (suffixes KiB MiB GiB): one token bucket on the
                               sender of raw and StreamKit (BandwidthLimit) alike, so elided zero runs and
                               compression show as the effective device bytes/s they buy on a slower network;
                               default 0 = loopback speed (naive and lz4|socat are never limited)
          --out DIR            where e2e-<time>.json / .csv go (default bench/results)
          --timeout SECONDS    per run (default 600)
          --jit steady|default steady (default): children run with DOTNET_TieredCompilation=0 and
                               DOTNET_ReadyToRun=0, so the timed run is the steady state (all code, the
                               framework's too, fully optimized for this CPU; no tier-up JIT in it);
                               default: the runtime's tiered JIT
          --verbose            echo the children's other output
        For the method of limits.md run it in its own autogroup at nice -20 (root):
          setsid -w sh -c 'echo -20 > /proc/self/autogroup; exec nice -n -20 dotnet bin/.../StreamKit.Benchmarks.dll e2e ...'
        """;

    public static E2eOptions Parse(string[] args)
    {
        var o = new E2eOptions();
        for (int i = 1; i < args.Length; i++)
        {
            string key = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{key} needs a value");
            o = key switch
            {
                "--size" => o with { SizeBytes = ParseSize(Value()) },
                "--zero" => o with { Zero = List(Value(), s => double.Parse(s, CultureInfo.InvariantCulture)) },
                "--zero-run" => o with { ZeroRun = List(Value(), s => int.Parse(s, CultureInfo.InvariantCulture)) },
                "--chunk" => o with { Chunk = List(Value(), s => checked((int)ParseSize(s))) },
                "--channels" => o with { Channels = List(Value(), s => int.Parse(s, CultureInfo.InvariantCulture)) },
                "--lz4" => o with { Lz4 = List(Value(), s => s is "on" or "true" or "1") },
                "--matrix" => o with { Matrix = Value() is "full" ? "full" : "axes" },
                "--repeat" => o with { Repeat = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--variants" => o with { Variants = List(Value(), s => s) },
                "--warmup" => o with { WarmupBytes = ParseSize(Value()) },
                "--cap" => o with { ReassemblyCap = ParseSize(Value()) },
                "--seed" => o with { Seed = ulong.Parse(Value(), CultureInfo.InvariantCulture) },
                "--socket-buffer" => o with { SocketBuffer = checked((int)ParseSize(Value())) },
                "--out" => o with { OutDirectory = Value() },
                "--link-rate" => o with { LinkRate = ParseSize(Value()) },
                "--timeout" => o with { RunTimeout = TimeSpan.FromSeconds(double.Parse(Value(), CultureInfo.InvariantCulture)) },
                "--verbose" => o with { Verbose = true },
                "--jit" => o with { Jit = Value() is "default" or "tiered" ? "default" : "steady" },
                "--help" or "-h" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"unknown option {key}\n{Usage}"),
            };
        }
        if (o.Repeat < 1) throw new ArgumentException("--repeat must be ≥ 1");
        if (o.ZeroRun.Any(r => r is < 1 or > 65536)) throw new ArgumentException("--zero-run values must be 1..65536 pages");
        foreach (var v in o.Variants)
            if (v is not (E2eVariant.Raw or E2eVariant.Naive or E2eVariant.StreamKit or E2eVariant.Lz4Socat))
                throw new ArgumentException($"unknown variant {v}");
        return o;
    }

    private static T[] List<T>(string value, Func<string, T> parse) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToArray();

    public static long ParseSize(string text)
    {
        text = text.Trim();
        (string number, long unit) = text switch
        {
            _ when text.EndsWith("GiB", StringComparison.OrdinalIgnoreCase) => (text[..^3], 1L << 30),
            _ when text.EndsWith("MiB", StringComparison.OrdinalIgnoreCase) => (text[..^3], 1L << 20),
            _ when text.EndsWith("KiB", StringComparison.OrdinalIgnoreCase) => (text[..^3], 1L << 10),
            _ => (text, 1L),
        };
        return (long)(double.Parse(number, CultureInfo.InvariantCulture) * unit);
    }

    public static string FormatSize(long bytes) => bytes switch
    {
        _ when bytes >= 1L << 30 && bytes % (1L << 30) == 0 => $"{bytes >> 30}GiB",
        _ when bytes >= 1L << 20 && bytes % (1L << 20) == 0 => $"{bytes >> 20}MiB",
        _ when bytes >= 1L << 10 && bytes % (1L << 10) == 0 => $"{bytes >> 10}KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture),
    };
}
