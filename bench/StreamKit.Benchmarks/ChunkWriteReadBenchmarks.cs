using System.Buffers;
using BenchmarkDotNet.Attributes;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>
/// Writes <see cref="Size"/> / 1 MiB chunks of 1 MiB each through <see cref="ChunkWriter"/> (payload filled in place, CRC32C in
/// place, stored) into a reused buffer, then reads them back with <see cref="ChunkReader"/> (header and
/// payload CRC checked, payload handed out as a slice). Two sizes (16 and 64 chunks) separate what a
/// stream allocates once (writer, reader) from what a chunk allocates: (Allocated(64) − Allocated(16)) / 48.
/// </summary>
[Config(typeof(BenchConfig))]
public class ChunkWriteReadBenchmarks
{
    private const int PayloadSize = 1024 * 1024;

    /// <summary>Payload bytes per operation (for the GB/s columns): 16 or 64 chunks.</summary>
    [Params(16L << 20, 64L << 20)]
    public long Size { get; set; }

    private int ChunksPerOperation => (int)(Size / PayloadSize);

    private readonly byte[] _source = new byte[PayloadSize];
    private ArrayBufferWriter<byte> _output = null!;
    private readonly ChunkWriterOptions _options = new() { StreamId = Guid.Parse("6a4f0c55-1b8e-4a53-9a43-5d9b0f3e7c21"), DetectZeroRuns = false };

    [GlobalSetup]
    public void Setup()
    {
        new Random(7).NextBytes(_source);
        _output = new ArrayBufferWriter<byte>(ChunksPerOperation * (PayloadSize + 64) + 4096);
    }

    [Benchmark(Description = "write N x 1 MiB")]
    public int Write() => WriteStream();

    [Benchmark(Description = "write+read N x 1 MiB")]
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
