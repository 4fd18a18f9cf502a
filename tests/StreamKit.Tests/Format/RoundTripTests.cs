using System.Buffers;
using StreamKit.Tests.Format.Support;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

/// <summary>Seeded random streams: write, read in random segmentation and channel interleaving, validate, compare.</summary>
public class RoundTripTests
{
    private sealed class Expected
    {
        public List<byte> Data { get; } = [];
        public List<byte> Config { get; } = [];
        public int Discards { get; set; }
        public bool Stop { get; set; }
    }

    [Fact]
    public void RandomStreamsSurviveTheRoundTrip()
    {
        Assert.True(Lz4Codec.IsAvailable, "liblz4.so.1 (Debian liblz4-1) must be installed for the test suite");
        for (ulong seed = 1; seed <= 80; seed++)
        {
            try
            {
                RunOne(seed);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Exception($"seed {seed}: {e.Message}", e);
            }
        }
    }

    private static void RunOne(ulong seed)
    {
        var rng = new DeterministicRandom(seed * 0x9E37_79B9);
        int channels = rng.Between(1, 3);
        uint maxPayload = (uint)rng.Between(4096, 32768);
        var options = new ChunkWriterOptions
        {
            StreamId = new Guid((int)seed, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
            MaxPayload = maxPayload,
            ChunkSize = rng.Between(16, (int)Math.Min(maxPayload, 6000)),
            Compress = rng.Chance(50),
            DetectZeroRuns = rng.Chance(70),
            MaxDevices = 8,
            Capabilities = StreamCapabilities.PrecopyHints,
        };
        var outputs = Enumerable.Range(0, channels).Select(_ => new ArrayBufferWriter<byte>()).ToArray();
        var writers = ChunkWriter.CreateChannels(options, outputs);

        var ids = new List<ushort>();
        while (ids.Count < rng.Between(1, 4))
        {
            ushort id = (ushort)rng.Between(1, 65535);
            if (!ids.Contains(id)) ids.Add(id);
        }
        var expected = ids.ToDictionary(id => id, _ => new Expected());
        var scripts = ids.ToDictionary(id => id, id => Script(rng, id, options));
        var cursor = ids.ToDictionary(id => id, _ => 0);

        while (cursor.Any(c => c.Value < scripts[c.Key].Count))
        {
            var open = ids.Where(id => cursor[id] < scripts[id].Count).ToList();
            ushort device = open[rng.Next(open.Count)];
            var step = scripts[device][cursor[device]++];
            step(writers[rng.Next(channels)], expected[device]);
        }
        foreach (var w in writers) w.EndStream();

        // Read back: every channel in random segments, channels interleaved at random.
        var images = new DeviceImages();
        var validator = new StreamValidator(events: images);
        var feeds = outputs.Select(o => new ChannelFeed(o.WrittenSpan.ToArray(), rng)).ToArray();

        var live = Enumerable.Range(0, channels).ToList();
        while (live.Count > 0)
        {
            int pick = rng.Next(live.Count), index = live[pick];
            feeds[index].Step(p => validator.AcceptPreamble(p), c => validator.AcceptChunk(index, c));
            if (feeds[index].Done) live.RemoveAt(pick);
        }
        validator.Complete();

        Assert.True(validator.IsComplete);
        Assert.True(images.StreamEnded);
        Assert.Equal(0, validator.BufferedBytes);
        foreach (var id in ids)
        {
            Assert.Equal(expected[id].Data, images.Data[id]);
            Assert.Equal(expected[id].Config, images.Config[id]);
            var summary = validator.Summary.Devices.Single(d => d.Device == id);
            Assert.InRange(summary.Discards, Math.Min(1, expected[id].Discards), expected[id].Discards); // across channels a newer DISCARD can overtake an older one
            Assert.Equal((uint)expected[id].Discards, summary.FinalEpoch);
            Assert.Equal((ulong)expected[id].Data.Count, summary.End!.Value.DataBytes);
        }
        Assert.Equal(channels, validator.Summary.Channels.Count);
        Assert.Equal(outputs.Sum(o => (long)o.WrittenCount), validator.Summary.Channels.Sum(c => c.Bytes));
    }

    private delegate void Step(ChunkWriter writer, Expected expected);

    private static List<Step> Script(DeterministicRandom rng, ushort device, ChunkWriterOptions options)
    {
        var steps = new List<Step> { (w, _) => w.BeginDevice(device, new DeviceBeginRecord(7, 1000, $"dev{device}", "test")) };
        int pre = rng.Between(0, 6);
        for (int i = 0; i < pre; i++)
        {
            switch (rng.Next(10))
            {
                case 0:
                    steps.Add((w, e) => { w.Discard(device, DiscardReason.SourceDeviceReset); e.Data.Clear(); e.Config.Clear(); e.Discards++; });
                    break;
                case 1:
                    steps.Add((w, _) => w.WritePrecopyInfo(device, new PrecopyInfoRecord(5, 6)));
                    break;
                case 2:
                    steps.Add(ConfigStep(rng, device));
                    break;
                case 3:
                    uint run = (uint)rng.Between(1, rng.Chance(20) ? (int)options.MaxPayload : 2000);
                    steps.Add((w, e) => { w.WriteZeroRun(device, run, DataPhase.PreCopy); e.Data.AddRange(new byte[run]); });
                    break;
                default:
                    steps.Add(DataStep(rng, device, DataPhase.PreCopy, options));
                    break;
            }
        }
        int stop = rng.Between(0, 4);
        for (int i = 0; i < stop; i++)
            steps.Add(rng.Chance(20) ? ConfigStep(rng, device) : DataStep(rng, device, DataPhase.StopCopy, options));
        steps.Add((w, _) => w.EndDevice(device));
        return steps;
    }

    private static Step ConfigStep(DeterministicRandom rng, ushort device)
    {
        var config = rng.Chance(50) ? rng.Text(rng.Between(1, 400)) : rng.Bytes(rng.Between(1, 100));
        return (w, e) => { w.WriteConfig(device, config); e.Config.AddRange(config); };
    }

    private static Step DataStep(DeterministicRandom rng, ushort device, DataPhase phase, ChunkWriterOptions options)
    {
        int length = rng.Between(1, Math.Min(3 * options.ChunkSize, 3000));
        byte[] data = rng.Next(4) switch
        {
            0 => rng.Bytes(length),
            1 => new byte[length],
            2 => rng.Text(length),
            _ => [.. new byte[length / 2], .. rng.Bytes(length - length / 2)],
        };
        bool inPlace = rng.Chance(50);
        return (w, e) =>
        {
            e.Data.AddRange(data);
            if (!inPlace)
            {
                w.WriteData(device, data, phase);
                return;
            }
            for (int at = 0; at < data.Length; at += options.ChunkSize)
            {
                int n = Math.Min(options.ChunkSize, data.Length - at);
                var span = w.GetPayloadSpan(n);
                data.AsSpan(at, n).CopyTo(span);
                w.CommitData(device, n, phase);
            }
        };
    }
}
