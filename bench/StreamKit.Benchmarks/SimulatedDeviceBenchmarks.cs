using BenchmarkDotNet.Attributes;
using StreamKit.Device;

namespace StreamKit.Benchmarks;

/// <summary>
/// Speed of the simulated bulk device itself (state generation on the source, verification on the
/// destination), so transport benchmarks can rule it out as their bottleneck. 256 MiB per operation,
/// 1 MiB reads and writes.
/// </summary>
[MemoryDiagnoser]
public class SimulatedDeviceBenchmarks
{
    private readonly byte[] _buffer = new byte[1 << 20];

    [Params(0.0, 0.5)]
    public double ZeroFraction { get; set; }

    private string Spec => $"sim:profile=bulk,size=256MiB,seed=1,zero={ZeroFraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    [Benchmark(Description = "generate 256 MiB (STOP_COPY read)")]
    public long Generate()
    {
        using var source = SimulatedDevice.Create(Spec);
        var channel = source.SetState(MigrationState.StopCopy)!;
        long total = 0;
        DataReadResult r;
        while ((r = channel.Read(_buffer)).Status == DataReadStatus.Data) total += r.Count;
        return total;
    }

    [Benchmark(Description = "generate + verify + commit 256 MiB")]
    public ulong RoundTrip()
    {
        using var source = SimulatedDevice.Create(Spec);
        using var destination = SimulatedDevice.Create(Spec + ",state=blank");
        var saving = source.SetState(MigrationState.StopCopy)!;
        var resuming = destination.SetState(MigrationState.Resuming)!;
        DataReadResult r;
        while ((r = saving.Read(_buffer)).Status == DataReadStatus.Data) resuming.Write(_buffer.AsSpan(0, r.Count));
        destination.SetState(MigrationState.Running);
        return destination.StateDigest;
    }
}
