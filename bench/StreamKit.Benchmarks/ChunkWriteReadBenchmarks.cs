using System.Buffers;
using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>
/// Writes 16 chunks of 1 MiB each through <see cref="ChunkWriter"/> (payload filled in place, CRC32C in
/// place, stored) into a reused buffer, then reads them back with <see cref="ChunkReader"/> (header and
/// payload CRC checked, payload handed out as a slice). Allocated bytes per operation / 16 = per chunk.
/// </summary>
[Config(typeof(BenchConfig))]
public class ChunkWriteReadBenchmarks
{
    private const int PayloadSize = 1024 * 1024;
    private const int ChunksPerOperation = 16;

    /// <summary>Payload bytes moved per benchmark operation (for the GB/s columns).</summary>
    public const long BytesPerOperation = (long)PayloadSize * ChunksPerOperation;

    private readonly byte[] _source = new byte[PayloadSize];
    private readonly ArrayBufferWriter<byte> _output = new(ChunksPerOperation * (PayloadSize + 64) + 4096);
    private readonly ChunkWriterOptions _options = new() { StreamId = Guid.Parse("6a4f0c55-1b8e-4a53-9a43-5d9b0f3e7c21"), DetectZeroRuns = false };

    [GlobalSetup]
    public void Setup() => new Random(7).NextBytes(_source);

    [Benchmark(Description = "write 16 x 1 MiB")]
    public int Write() => WriteStream();

    [Benchmark(Description = "write+read 16 x 1 MiB")]
    public long WriteAndRead()
    {
        WriteStream();
        var buffer = new ReadOnlySequence<byte>(_output.WrittenMemory);
        var reader = new ChunkReader();
        reader.TryReadPreamble(ref buffer, out _);
        long payload = 0;
        while (reader.TryReadChunk(ref buffer, out var chunk))
            if (chunk.Header.Type == ChunkType.Data) payload += chunk.Payload.Length;
        return payload;
    }

    private int WriteStream()
    {
        _output.ResetWrittenCount();
        var writer = new ChunkWriter(_output, _options);
        writer.BeginDevice(1, new DeviceBeginRecord(0x7, PayloadSize * (ulong)ChunksPerOperation, "bench", "sim"));
        for (int i = 0; i < ChunksPerOperation; i++)
        {
            // The device read lands here: straight behind the reserved header.
            _source.CopyTo(writer.GetPayloadSpan(PayloadSize));
            writer.CommitData(1, PayloadSize, DataPhase.StopCopy);
        }
        writer.EndDevice(1);
        writer.EndStream();
        return _output.WrittenCount;
    }
}
