using System.Text;
using StreamKit.Tests.Vectors;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;
using Xunit;
using Xunit.Abstractions;

namespace StreamKit.Tests.Fuzzing;

/// <summary>
/// The checked-in seed corpus, tests/StreamKit.Tests/Fuzzing/corpus/&lt;target&gt;/: the spec vectors in
/// each target's input form, the crashers of FuzzRegressionTests, hand-written control requests and a
/// few generated inputs. Replayed on every run; the same directories seed AFL++ and <c>streamkit fuzz</c>.
/// STREAMKIT_WRITE_CORPUS=1 rewrites it from this file (then review <c>git status</c>).
/// </summary>
public sealed class FuzzCorpusTests(ITestOutputHelper output)
{
    private const string WriteVariable = "STREAMKIT_WRITE_CORPUS";
    private const ulong CorpusSeed = 1;

    internal static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "StreamKit.sln")))
                    return Path.Combine(dir.FullName, "tests", "StreamKit.Tests", "Fuzzing", "corpus");
            }
            throw new DirectoryNotFoundException("the StreamKit checkout (StreamKit.sln) was not found above the test binaries");
        }
    }

    [Fact]
    public void EveryTargetHasASeedCorpus()
    {
        if (Environment.GetEnvironmentVariable(WriteVariable) == "1") Write();
        foreach (var target in FuzzTargetCatalog.All)
        {
            string dir = Path.Combine(Root, target.Name);
            Assert.True(Directory.Exists(dir), $"no seed corpus for {target.Name} at {dir}");
            Assert.True(Directory.GetFiles(dir).Length >= 5, $"the {target.Name} corpus has fewer than 5 inputs");
        }
        Assert.Equal(FuzzTargetCatalog.All.Select(t => t.Name).Order(), Directory.GetDirectories(Root).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void TheCorpusReplaysWithoutFindings()
    {
        foreach (var target in FuzzTargetCatalog.All)
        {
            string dir = Path.Combine(Root, target.Name);
            var report = FuzzRunner.Run(target, new FuzzRunOptions { Iterations = 0, CorpusDirectories = [dir], WarmupInputs = 2 });
            output.WriteLine(report.ToString());
            Assert.True(report.Findings.Count == 0, FuzzRunner.Format([report]));
            Assert.Equal(Directory.GetFiles(dir).Length, report.CorpusInputs);
        }
    }

    private static void Write()
    {
        var vectors = VectorCatalog.All;
        void Put(string target, string name, byte[] bytes)
        {
            string dir = Path.Combine(Root, target);
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, name + ".bin"), bytes);
        }
        void Generated(string target, int count)
        {
            var info = FuzzTargetCatalog.Find(target);
            int written = 0;
            for (long i = 0; written < count; i++)
            {
                var input = info.Generate(CorpusSeed, i);
                if (input.Length > 16 * 1024) continue; // keep the corpus small
                Put(target, $"gen-{CorpusSeed}-{i:D4}", input);
                written++;
            }
        }

        foreach (var dir in Directory.Exists(Root) ? Directory.GetDirectories(Root) : []) Directory.Delete(dir, recursive: true);

        foreach (var v in vectors)
        {
            foreach (var f in v.Files) Put("chunk-reader", $"vector-{Path.GetFileNameWithoutExtension(f.File)}", f.Bytes);
            byte[][] channels = [.. v.Files.Select(f => f.Bytes)];
            Put("stream-validator", $"vector-{v.Name}", FuzzInput.Pack(channels, 0, 0, 0));
            if (v.Name is "one-device" or "newer-minor" or "bad-magic" or "unknown-major" or "bad-preamble-crc" or "truncated-header")
                Put("preamble", $"vector-{v.Name}", v.Files[0].Bytes[..Math.Min(v.Files[0].Bytes.Length, 80)]);
        }
        var oneDevice = vectors.Single(v => v.Name == "one-device").Files[0].Bytes;
        for (int i = 0, at = Preamble.Size; at + ChunkHeader.Size <= oneDevice.Length; i++)
        {
            var header = oneDevice.AsSpan(at, ChunkHeader.Size);
            Put("chunk-header", $"vector-one-device-chunk{i}", [.. header, (byte)(i * 37)]);
            at += ChunkHeader.Size + (int)BitConverter.ToUInt32(oneDevice, at + 32);
        }
        Put("stream-validator", "vector-two-channels-sequential", FuzzInput.Pack([.. vectors.Single(v => v.Name == "two-channels").Files.Select(f => f.Bytes)], 2, 1, 9));

        Put("preamble", "crash-short-bad-magic", FuzzRegressionTests.ShortBadMagic);
        Put("control-request", "crash-lone-low-surrogate-op", FuzzRegressionTests.LoneLowSurrogateOp);
        Put("control-request", "crash-lone-high-surrogate-op", FuzzRegressionTests.LoneHighSurrogateOp);
        string[] requests =
        [
            """{"id":1,"op":"hello","version":1,"client":"qemu"}""",
            """{"id":2,"op":"add-device","device":1,"name":"0000:65:00.1","driver":"mlx5_vfio_pci","migration_flags":7,"stop_copy_estimate":1048576}""",
            """{"id":3,"op":"precopy-info","device":1,"initial_bytes":0,"dirty_bytes":4096}""",
            """{"id":4,"op":"discard","device":1,"initial_bytes":65536}""",
            """{"id":5,"op":"switchover","wait_ack":true}""",
            """{"id":6,"op":"commit-result","device":1,"epoch":1,"ok":false,"errno":22,"message":"RESUMING -> STOP failed"}""",
            """{"id":7,"op":"resume-fd","device":1,"epoch":2}""",
        ];
        for (int i = 0; i < requests.Length; i++) Put("control-request", $"spec-request-{i + 1}", [(byte)(i % 2 == 0 ? 1 : 4), .. Encoding.UTF8.GetBytes(requests[i])]);
        // Two requests in one receive with one fd, then a blank line and a request split over two receives.
        byte[] first = Encoding.UTF8.GetBytes(requests[0] + "\n" + requests[1] + "\n");
        byte[] second = Encoding.UTF8.GetBytes("\n" + requests[2] + "\n");
        Put("control-line", "spec-requests", [250, (byte)(0x20 | 0x40 | (first.Length / 37)), .. first, (byte)(second.Length / 2 - 1), .. second.AsSpan(0, second.Length / 2), 0x1F, .. second.AsSpan(second.Length / 2)]);
        Put("return-path", "rejection-notice", StreamKit.Transport.RejectionNotice.Encode(
            new Preamble(MalformedStreamGenerator.ReturnPathStreamId, 0, 1, StreamCapabilities.ReturnPath, 65536, 8, PreambleRole.Forward), StreamErrorCode.BadChannel, "duplicate channel 1"));

        Put("receiver-session", "valid-mtty-hisi", FuzzInput.Pack([ReceiverSessionFuzzTarget.ValidStream], 0, 0, 0));
        Put("receiver-session", "valid-mtty-hisi-cut", FuzzInput.Pack([ReceiverSessionFuzzTarget.ValidStream], 3, 0, 77));
        Put("receiver-session", "crash-max-payload-4095", FuzzInput.Pack([ReceiverSessionRegressionTests.PreambleOnly(4095, StreamCapabilities.None)], 0, 0, 0));
        Put("receiver-session", "crash-switchover-ack-without-return-path", FuzzInput.Pack([ReceiverSessionRegressionTests.PreambleOnly(65536, StreamCapabilities.SwitchoverAck)], 0, 0, 0));
        foreach (var target in FuzzTargetCatalog.All) Generated(target.Name, target.Name is "return-path" or "control-line" ? 6 : 4);
    }
}
