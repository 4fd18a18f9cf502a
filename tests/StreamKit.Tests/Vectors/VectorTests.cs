using System.Buffers;
using System.Text.Json;
using StreamKit.Tests.Format.Support;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Vectors;

/// <summary>
/// spec/vectors must equal the generator byte for byte, and every vector must decode to what
/// expected.json says. Set STREAMKIT_WRITE_VECTORS=1 (spec/vectors/generate.sh) to rewrite them.
/// </summary>
public class VectorTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var v in VectorCatalog.All) data.Add(v.Name);
        return data;
    }

    private static TestVector Get(string name) => VectorCatalog.All.Single(v => v.Name == name);

    [Fact]
    public void FilesOnDiskMatchTheGenerator()
    {
        string dir = VectorFiles.Directory;
        string json = VectorFiles.ExpectedJson(VectorCatalog.All);
        if (VectorFiles.Regenerate)
        {
            System.IO.Directory.CreateDirectory(dir);
            foreach (var stale in System.IO.Directory.GetFiles(dir, "*.bin")) File.Delete(stale);
            foreach (var v in VectorCatalog.All)
                foreach (var (file, bytes) in v.Files)
                    File.WriteAllBytes(Path.Combine(dir, file), bytes);
            File.WriteAllText(Path.Combine(dir, "expected.json"), json);
        }
        var expectedFiles = VectorCatalog.All.SelectMany(v => v.Files).ToDictionary(f => f.File, f => f.Bytes);
        var onDisk = System.IO.Directory.GetFiles(dir, "*.bin").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(expectedFiles.Keys.Order().ToArray(), onDisk);
        foreach (var (file, bytes) in expectedFiles)
        {
            var actual = File.ReadAllBytes(Path.Combine(dir, file));
            Assert.True(bytes.AsSpan().SequenceEqual(actual),
                $"{file} differs from the generator (first difference at {FirstDifference(bytes, actual)}): the wire format or the writer changed. " +
                $"If intended, run spec/vectors/generate.sh and review the diff.");
        }
        Assert.Equal(json, File.ReadAllText(Path.Combine(dir, "expected.json")));
    }

    [Fact]
    public void ReadmeListsEveryVector()
    {
        string readme = File.ReadAllText(Path.Combine(VectorFiles.Directory, "README.md"));
        foreach (var v in VectorCatalog.All)
        {
            Assert.Contains($"`{v.Name}`", readme);
            if (v.Error is { } e)
                Assert.Contains($"| `{v.Name}` | {e.File} | {e.Code} ({e.Value}) @ {e.Offset} |", readme);
        }
        Assert.Contains(VectorFiles.RegenerateVariable, readme);
    }

    [Fact]
    public void CatalogCoversTheRequiredCases()
    {
        var names = VectorCatalog.All.Select(v => v.Name).ToHashSet();
        string[] required = ["one-device", "two-devices", "compressed", "zero-runs", "discard", "two-channels", "unknown-optional", "newer-minor",
            "bad-magic", "bad-preamble-crc", "bad-header-crc", "bad-payload-crc", "truncated-header", "truncated-payload", "length-over-limit",
            "sequence-gap", "duplicate-chunk", "epoch-regression", "unknown-mandatory", "digest-mismatch", "unknown-major"];
        Assert.Empty(required.Except(names));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void DecodesAsDescribed(string name)
    {
        var v = Get(name);
        // Decode the files on disk (what an independent implementation would test against).
        var files = v.Files.Select(f => File.ReadAllBytes(Path.Combine(VectorFiles.Directory, f.File))).ToArray();
        var channels = files.Select(f => new ReadOnlySequence<byte>(f)).ToList();
        if (v.IsReturnPath)
        {
            if (v.Error is { } returnError)
            {
                var e = Assert.Throws<StreamFormatException>(() => VerifyReturnPath(files[0]));
                Assert.Equal(returnError.Code, e.Code.ToString());
                Assert.Equal(returnError.Offset, e.StreamOffset);
                return;
            }
            var (preamble, chunkLines) = VerifyReturnPath(files[0]);
            Assert.Equal(v.ReturnPathWindow, preamble.ReceiveWindow);
            Assert.Equal(v.Chunks![v.Files[0].File], chunkLines);
            return;
        }
        if (v.Error is { } error)
        {
            var e = Assert.Throws<StreamFormatException>(() => StreamValidator.Verify(channels));
            Assert.Equal(error.Code, e.Code.ToString());
            Assert.Equal(error.Value, (uint)e.Code);
            Assert.Equal(error.Offset, e.StreamOffset);
            return;
        }
        // Chunk list per file, straight from the reader.
        for (int i = 0; i < files.Length; i++)
        {
            var reader = new ChunkReader();
            var buffer = channels[i];
            var lines = new List<string>();
            while (reader.TryReadChunk(ref buffer, out var chunk)) lines.Add(VectorBuilder.Describe(chunk.Header));
            reader.Finish(buffer);
            Assert.Equal(v.Chunks![v.Files[i].File], lines);
        }
        // The whole stream validates and every device ends with the expected digest.
        var images = new DeviceImages();
        var summary = StreamValidator.Verify(channels, events: images);
        Assert.True(summary.IsComplete);
        Assert.True(images.StreamEnded);
        foreach (var d in v.Devices!)
        {
            var end = images.Ends[d.Device];
            Assert.Equal(d.DataBytes, end.DataBytes);
            Assert.Equal(d.ConfigBytes, end.ConfigBytes);
            Assert.Equal(d.DataCrc32C, $"0x{Crc32C.Compute(images.Data[d.Device].ToArray()):X8}");
            Assert.Equal(d.ConfigCrc32C, $"0x{Crc32C.Compute(images.Config[d.Device].ToArray()):X8}");
            Assert.Equal(d.FinalEpoch, summary.Devices.Single(s => s.Device == d.Device).FinalEpoch);
        }
        Assert.Equal(v.Devices!.Count, summary.Devices.Count);
    }

    [Fact]
    public void ExpectedJsonIsWellFormedAndAgreesWithTheCatalog()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(VectorFiles.Directory, "expected.json")));
        var vectors = doc.RootElement.GetProperty("vectors").EnumerateArray().ToList();
        Assert.Equal(VectorCatalog.All.Count, vectors.Count);
        foreach (var element in vectors)
        {
            var v = Get(element.GetProperty("name").GetString()!);
            Assert.Equal(v.IsValid ? "valid" : "error", element.GetProperty("result").GetString());
        }
    }

    [Fact]
    public void TwoChannelVectorValidatesInAnyChannelOrder()
    {
        var v = Get("two-channels");
        var files = v.Files.Select(f => File.ReadAllBytes(Path.Combine(VectorFiles.Directory, f.File))).ToArray();
        // Channel 1 entirely first: everything of device 1 waits for its DEVICE_BEGIN on channel 0.
        var validator = new StreamValidator(events: new DeviceImages());
        foreach (int c in new[] { 1, 0 })
        {
            var reader = new ChunkReader();
            var buffer = new ReadOnlySequence<byte>(files[c]);
            Assert.True(reader.TryReadPreamble(ref buffer, out var preamble));
            validator.AcceptPreamble(preamble);
            while (reader.TryReadChunk(ref buffer, out var chunk)) validator.AcceptChunk(c, chunk);
            reader.Finish(buffer);
        }
        validator.Complete();
        Assert.True(validator.IsComplete);
        Assert.True(validator.Summary.OutOfOrderChunks > 0);
        Assert.Equal(0, validator.BufferedBytes);
        Assert.Equal(1u, validator.Summary.Devices.First().FinalEpoch);
    }

    [Fact]
    public void Lz4EncoderOutputDecodesWithLiblz4()
    {
        Assert.True(Lz4Codec.IsAvailable, "liblz4.so.1 (Debian liblz4-1) must be installed for the test suite");
        var rng = new DeterministicRandom(42);
        for (int i = 0; i < 200; i++)
        {
            byte[] raw = rng.Chance(50) ? rng.Text(rng.Between(0, 20000)) : rng.Bytes(rng.Between(0, 300));
            var packed = new byte[raw.Length + raw.Length / 255 + 16];
            int n = TestLz4Encoder.Compress(raw, packed);
            Assert.True(n > 0);
            var back = new byte[raw.Length];
            if (raw.Length > 0) Assert.Equal(raw.Length, Lz4Codec.Decompress(packed.AsSpan(0, n), back));
            Assert.Equal(raw, back);
        }
    }

    /// <summary>Reads a whole return path the way a sender does: return-path reader, <see cref="ReturnPathValidator"/>, then the end checks.</summary>
    private static (Preamble Preamble, List<string> Lines) VerifyReturnPath(byte[] bytes)
    {
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var buffer = new ReadOnlySequence<byte>(bytes);
        if (!reader.TryReadPreamble(ref buffer, out var preamble)) reader.Finish(buffer);
        var validator = new ReturnPathValidator(preamble.StreamId);
        validator.AcceptPreamble(preamble);
        var lines = new List<string>();
        while (reader.TryReadChunk(ref buffer, out var chunk))
        {
            validator.Accept(chunk);
            lines.Add(VectorBuilder.Describe(chunk.Header));
        }
        reader.Finish(buffer);
        return (preamble, lines);
    }

    private static long FirstDifference(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++) if (a[i] != b[i]) return i;
        return n;
    }
}
