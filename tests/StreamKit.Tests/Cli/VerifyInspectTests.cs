using System.Text.Json;
using StreamKit.Tests.Vectors;
using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>
/// <c>streamkit verify</c> and <c>inspect</c> as processes against the spec's test vectors: every valid
/// vector exits 0, every malformed one exits 5 with exactly the error code and stream offset that
/// spec/vectors/expected.json pins.
/// </summary>
public sealed class VerifyInspectTests
{
    private static JsonElement Expected => JsonDocument.Parse(File.ReadAllText(Path.Combine(VectorFiles.Directory, "expected.json"))).RootElement;

    public static TheoryData<string> VectorNames()
    {
        var data = new TheoryData<string>();
        foreach (var v in Expected.GetProperty("vectors").EnumerateArray()) data.Add(v.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(VectorNames))]
    public async Task VerifyGivesTheVectorsExpectedResult(string name)
    {
        var vector = Expected.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("name").GetString() == name);
        var files = vector.GetProperty("files").EnumerateArray().Select(f => Path.Combine(VectorFiles.Directory, f.GetString()!)).ToArray();
        await using var p = await StreamkitProcess.RunAsync(["verify", "--json", .. files.Reverse()]); // channel files in any order
        var result = p.LastEvent("verify");
        if (vector.GetProperty("result").GetString() == "valid")
        {
            p.AssertExit(0);
            Assert.True(result.GetProperty("ok").GetBoolean());
            return;
        }
        p.AssertExit(5);
        var expected = vector.GetProperty("error");
        var error = result.GetProperty("error");
        Assert.Equal(expected.GetProperty("code").GetString(), error.GetProperty("code").GetString());
        Assert.Equal(expected.GetProperty("value").GetInt32(), error.GetProperty("code_value").GetInt32());
        Assert.Equal(expected.GetProperty("offset").GetInt64(), error.GetProperty("stream_offset").GetInt64());
        Assert.Contains(expected.GetProperty("code").GetString()!, p.Stderr);
    }

    [Fact]
    public async Task VerifyFindsAFlippedPayloadByteAndNamesItsOffset()
    {
        string dir = Directory.CreateTempSubdirectory("streamkit-verify-").FullName;
        try
        {
            byte[] image = File.ReadAllBytes(Path.Combine(VectorFiles.Directory, "two-devices.bin"));
            // The first DATA chunk of device 1 starts after the preamble and both DEVICE_BEGINs (48+41, 48+45).
            long payload = 64 + (48 + 41) + (48 + 45) + 48;
            image[payload + 1000] ^= 0x40;
            string file = Path.Combine(dir, "corrupt.bin");
            File.WriteAllBytes(file, image);

            await using var text = await StreamkitProcess.RunAsync("verify", file);
            text.AssertExit(5);
            Assert.Contains($"PayloadChecksumMismatch (300) at stream offset {payload}", text.Stderr);

            await using var json = await StreamkitProcess.RunAsync("verify", "--json", "file:" + file);
            json.AssertExit(5);
            var error = json.LastEvent("verify").GetProperty("error");
            Assert.Equal("PayloadChecksumMismatch", error.GetProperty("code").GetString());
            Assert.Equal(payload, error.GetProperty("stream_offset").GetInt64());
            Assert.Equal(file, error.GetProperty("file").GetString());

            // Cut inside a payload: truncated, at the end of the input.
            File.WriteAllBytes(file, image.AsSpan(0, (int)payload + 10).ToArray());
            await using var cut = await StreamkitProcess.RunAsync("verify", "--json", file);
            cut.AssertExit(5);
            Assert.Equal("TruncatedPayload", cut.LastEvent("verify").GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(payload + 10, cut.LastEvent("verify").GetProperty("error").GetProperty("stream_offset").GetInt64());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task VerifyOfAMissingFileIsAUsageError()
    {
        await using var p = await StreamkitProcess.RunAsync("verify", "/nonexistent/stream.bin");
        p.AssertExit(2);
        Assert.Contains("no such file", p.Stderr);
    }

    [Fact]
    public async Task InspectShowsEpochsDiscardsAndChunkSizes()
    {
        await using var p = await StreamkitProcess.RunAsync("inspect", "--json", Path.Combine(VectorFiles.Directory, "discard.bin"));
        p.AssertExit(0);
        var report = p.LastEvent("inspect");
        Assert.True(report.GetProperty("ok").GetBoolean());
        var device = report.GetProperty("devices").EnumerateArray().First(d => d.GetProperty("id").GetInt32() == 1);
        Assert.Equal(1, device.GetProperty("discards").GetInt32());
        Assert.Equal(1u, device.GetProperty("final_epoch").GetUInt32());
        var epochs = device.GetProperty("epochs").EnumerateArray().ToList();
        Assert.Equal(2, epochs.Count);
        Assert.False(epochs[0].GetProperty("final").GetBoolean());
        Assert.Equal(1u, epochs[1].GetProperty("opened_by_discard").GetProperty("reason").GetUInt32());
        Assert.Equal(device.GetProperty("discarded_bytes").GetInt64(), epochs[1].GetProperty("opened_by_discard").GetProperty("bytes_discarded").GetInt64());
        Assert.True(epochs[1].GetProperty("final").GetBoolean());
        Assert.True(epochs[0].GetProperty("max_chunk").GetInt64() >= epochs[0].GetProperty("min_chunk").GetInt64());

        await using var table = await StreamkitProcess.RunAsync("inspect", Path.Combine(VectorFiles.Directory, "discard.bin"));
        table.AssertExit(0);
        Assert.Contains("DISCARD: source device reset", table.Stdout);
        Assert.Contains("complete and verified", table.Stdout);
    }

    [Fact]
    public async Task InspectReportsCompressionAndShowsWhatPrecedesAFault()
    {
        await using var lz4 = await StreamkitProcess.RunAsync("inspect", "--json", "--chunks", Path.Combine(VectorFiles.Directory, "compressed.bin"));
        lz4.AssertExit(0);
        var device = lz4.LastEvent("inspect").GetProperty("devices")[0];
        Assert.True(device.GetProperty("lz4_chunks").GetInt32() >= 1);
        Assert.True(device.GetProperty("compression_ratio").GetDouble() > 1.0);
        Assert.Contains(lz4.LastEvent("inspect").GetProperty("chunks").EnumerateArray(), c => c.GetString()!.Contains("ZERO_RUN", StringComparison.Ordinal));

        await using var bad = await StreamkitProcess.RunAsync("inspect", "--json", Path.Combine(VectorFiles.Directory, "digest-mismatch.bin"));
        bad.AssertExit(5);
        var report = bad.LastEvent("inspect");
        Assert.False(report.GetProperty("ok").GetBoolean());
        Assert.Equal("DeviceDigestMismatch", report.GetProperty("error").GetProperty("code").GetString());
        Assert.NotEmpty(report.GetProperty("devices").EnumerateArray()); // what was read before the fault
    }
}
