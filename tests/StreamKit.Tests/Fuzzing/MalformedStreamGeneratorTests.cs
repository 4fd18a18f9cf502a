using System.Buffers;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;
using Xunit;

namespace StreamKit.Tests.Fuzzing;

public sealed class MalformedStreamGeneratorTests
{
    private static StreamFormatException? Verify(IReadOnlyList<byte[]> channels, out StreamSummary? summary)
    {
        summary = null;
        try
        {
            summary = StreamValidator.Verify(channels.Select(c => new ReadOnlySequence<byte>(c)).ToList());
            return null;
        }
        catch (StreamFormatException e)
        {
            return e;
        }
    }

    [Fact]
    public void ACaseIsAPureFunctionOfSeedAndIteration()
    {
        var a = new MalformedStreamGenerator();
        var b = new MalformedStreamGenerator();
        for (long i = 0; i < 40; i++)
        {
            var x = a.Generate(99, i);
            var y = b.Generate(99, i);
            Assert.Equal(x.Description, y.Description);
            Assert.Equal(x.Channels.Count, y.Channels.Count);
            for (int c = 0; c < x.Channels.Count; c++) Assert.Equal(x.Channels[c], y.Channels[c]);
            Assert.Equal(99UL, x.Seed);
            Assert.Equal(i, x.Iteration);
            Assert.StartsWith($"seed 99 iteration {i}: ", x.Description);
        }
        Assert.NotEqual(a.Generate(99, 1).Channels[0], a.Generate(99, 2).Channels[0]);
        Assert.NotEqual(a.Generate(99, 1).Channels[0], a.Generate(100, 1).Channels[0]);
    }

    [Fact]
    public void ValidBaselinesValidateUnderEveryInterleavingAndSegmentation()
    {
        var generator = new MalformedStreamGenerator();
        int lz4 = 0, discards = 0, zeroRuns = 0, multiChannel = 0, outOfOrder = 0, configs = 0, unknown = 0;
        for (long i = 0; i < 80; i++)
        {
            var c = generator.GenerateValid(7, i);
            Assert.False(c.IsMutated);
            var error = Verify(c.Channels, out var summary);
            Assert.True(error is null, $"{c.Description}: {error?.Message}");
            foreach (int mode in new[] { 0, 1, 2, 4 }) // round robin, lowest first, highest first, random
            {
                error = StreamValidatorFuzzTarget.Validate([.. c.Channels], (int)(i + mode) % FuzzInput.SegmentModes, mode, (byte)(i * 31 + mode), StreamValidatorFuzzTarget.ValidatorOptions);
                Assert.True(error is null, $"{c.Description}, interleaving {mode}: {error?.Message}");
            }
            lz4 += summary!.Devices.Sum(d => (int)d.Lz4Chunks);
            discards += summary.Devices.Sum(d => d.Discards);
            zeroRuns += summary.Devices.Sum(d => (int)d.ZeroRunChunks);
            configs += summary.Devices.Sum(d => (int)d.ConfigChunks);
            unknown += summary.Channels.Sum(ch => (int)ch.SkippedChunks);
            multiChannel += summary.ChannelCount > 1 ? 1 : 0;
            outOfOrder += summary.OutOfOrderChunks > 0 ? 1 : 0;
        }
        // The baselines exercise what the format has.
        if (Lz4Codec.IsAvailable) Assert.True(lz4 > 0, "no LZ4 chunk in 80 valid streams");
        Assert.True(discards > 0 && zeroRuns > 0 && configs > 0 && unknown > 0, $"discards {discards}, zero runs {zeroRuns}, config {configs}, unknown optional {unknown}");
        Assert.True(multiChannel > 13, $"{multiChannel} multi-channel streams of 80");
        Assert.True(outOfOrder > 0, "no stream needed cross-channel reassembly");
    }

    [Fact]
    public void MutatedCasesAreRejectedAndResealedOnesReachTheDeeperLayers()
    {
        var generator = new MalformedStreamGenerator(new MalformedStreamOptions { ValidPercent = 0 });
        int rejected = 0, resealed = 0, deep = 0, total = 400;
        var families = new SortedDictionary<uint, int>();
        for (long i = 0; i < total; i++)
        {
            var c = generator.Generate(3, i);
            Assert.True(c.IsMutated);
            Assert.NotEmpty(c.Mutations);
            Assert.Contains("mutations: ", c.Description);
            var error = Verify(c.Channels, out _);
            if (error is null) continue;
            rejected++;
            uint family = (uint)error.Code / 100;
            families[family] = families.GetValueOrDefault(family) + 1;
            if (!c.CrcsResealed) continue;
            resealed++;
            // Past the checksums: record, decoding and ordering faults.
            if (error.Code is not (StreamErrorCode.HeaderChecksumMismatch or StreamErrorCode.PayloadChecksumMismatch or StreamErrorCode.PreambleChecksumMismatch)) deep++;
        }
        string histogram = string.Join(", ", families.Select(f => $"{f.Key}xx: {f.Value}"));
        // Some mutations are legal (reserved preamble bytes, a newer minor, values the spec calls diagnostic).
        Assert.True(rejected > total * 8 / 10, $"only {rejected} of {total} mutated cases were rejected ({histogram})");
        Assert.True(deep > resealed * 7 / 10, $"only {deep} of {resealed} resealed cases got past the CRCs ({histogram})");
        Assert.True(families.GetValueOrDefault(4u) > total / 10 && families.GetValueOrDefault(3u) > total / 40 && families.GetValueOrDefault(1u) > 0,
            $"error families too narrow: {histogram}");
    }

    [Fact]
    public void FocusSteersTheMutations()
    {
        var generator = new MalformedStreamGenerator(new MalformedStreamOptions { ValidPercent = 0, MaxMutations = 1 });
        int preamble = 0;
        for (long i = 0; i < 100; i++)
        {
            var c = generator.Generate(5, i, MutationFocus.Preamble);
            if (c.Mutations.Any(m => m.Contains("preamble"))) preamble++;
        }
        Assert.True(preamble > 60, $"{preamble} of 100 preamble-focused cases changed a preamble");
    }

    [Fact]
    public void TheMutatorWorksOnCallerStreamsAndLeavesThemAlone()
    {
        var vector = VectorCatalog.All.Single(v => v.Name == "one-device").Files[0].Bytes;
        var original = (byte[])vector.Clone();
        var mutator = new StreamMutator();
        int changed = 0;
        for (long i = 0; i < 50; i++)
        {
            var c = mutator.Mutate([vector], 11, i);
            Assert.Equal(original, vector);
            Assert.Equal(PreambleRole.Forward, c.Direction);
            if (c.Channels.Count != 1 || !c.Channels[0].AsSpan().SequenceEqual(vector)) changed++;
        }
        Assert.True(changed > 45, $"{changed} of 50 mutations changed the stream");
    }

    [Fact]
    public void ReturnPathsAreValidUntilMutated()
    {
        var generator = new MalformedStreamGenerator(new MalformedStreamOptions { ValidPercent = 100 });
        for (long i = 0; i < 50; i++)
        {
            var c = generator.GenerateReturnPath(1, i);
            Assert.Equal(PreambleRole.ReturnPath, c.Direction);
            var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
            var validator = new ReturnPathValidator(MalformedStreamGenerator.ReturnPathStreamId);
            var buffer = new ReadOnlySequence<byte>(c.Channels[0]);
            Assert.True(reader.TryReadPreamble(ref buffer, out var preamble));
            validator.AcceptPreamble(preamble);
            while (reader.TryReadChunk(ref buffer, out var chunk)) validator.Accept(chunk);
            reader.Finish(buffer);
        }
    }

    [Fact]
    public void OptionsAreChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MalformedStreamGenerator(new MalformedStreamOptions { MaxChannels = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MalformedStreamGenerator(new MalformedStreamOptions { MaxPayload = 100 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StreamMutator(new MalformedStreamOptions { ResealPercent = 101 }));
        Assert.Throws<ArgumentException>(() => new StreamMutator().Mutate([], 1, 1));
    }
}
