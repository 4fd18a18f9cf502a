namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// Structure-aware mutator of StreamKit streams. It takes channels apart into preamble, chunk
/// headers and payloads (<see cref="ChannelImage"/>), changes fields with knowledge of what they mean
/// (lengths, types, flags, device ids, epochs, sequences, offsets, capability bits, record fields),
/// reorders, drops, duplicates and splices chunks within and across channels, and then — usually —
/// recomputes every CRC so that the fault gets past the checksums to the layer that must catch it.
/// Byte-level damage (truncation, bit flips) is applied last. Same input and (seed, iteration) give
/// the same output on every machine.
/// </summary>
public sealed class StreamMutator
{
    private readonly MalformedStreamOptions _options;

    /// <summary>Creates a mutator (defaults if <paramref name="options"/> is null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public StreamMutator(MalformedStreamOptions? options = null)
    {
        _options = options ?? new MalformedStreamOptions();
        _options.Validate();
    }

    /// <summary>
    /// Applies 1..<see cref="MalformedStreamOptions.MaxMutations"/> mutations to a copy of
    /// <paramref name="channels"/> (which are not modified).
    /// </summary>
    /// <param name="channels">One or more channels of one stream, preamble first.</param>
    /// <param name="seed">Seed; with <paramref name="iteration"/> it decides every choice.</param>
    /// <param name="iteration">Iteration number.</param>
    /// <param name="focus">Which kind of mutation to prefer.</param>
    /// <param name="donor">Channels of another stream to splice chunks from (optional).</param>
    /// <returns>The mutated case, with one description line per mutation.</returns>
    public MalformedCase Mutate(IReadOnlyList<byte[]> channels, ulong seed, long iteration,
        MutationFocus focus = MutationFocus.Any, IReadOnlyList<byte[]>? donor = null)
    {
        ArgumentNullException.ThrowIfNull(channels);
        if (channels.Count == 0) throw new ArgumentException("at least one channel is needed", nameof(channels));
        var direction = channels[0].Length > Preamble.RoleOffset && channels[0][Preamble.RoleOffset] == (byte)PreambleRole.ReturnPath
            ? PreambleRole.ReturnPath : PreambleRole.Forward;
        var result = Apply(channels, FuzzRandom.For(seed, iteration, salt: 2), focus, donor);
        return new MalformedCase(seed, iteration, direction, result.Channels, $"{channels.Count} caller-supplied channel(s)", result.Log, result.Resealed);
    }

    internal (byte[][] Channels, List<string> Log, bool Resealed) Apply(IReadOnlyList<byte[]> channels, FuzzRandom rng,
        MutationFocus focus, IReadOnlyList<byte[]>? donor)
    {
        var images = channels.Select(c => ChannelImage.Parse(c)).ToList();
        var donorImages = donor?.Select(c => ChannelImage.Parse(c)).ToList();
        var context = new MutationContext(rng, images, donorImages);

        int count = rng.Between(1, _options.MaxMutations);
        for (int i = 0; i < count; i++)
        {
            var kind = PickKind(rng, focus);
            bool applied = kind switch
            {
                MutationFocus.Preamble => PreambleMutations.Apply(context),
                MutationFocus.Header => HeaderMutations.Apply(context),
                MutationFocus.Payload => PayloadMutations.Apply(context),
                MutationFocus.Structure => StructureMutations.Apply(context),
                _ => ByteMutations.Plan(context),
            };
            if (!applied) ByteMutations.Plan(context); // nothing of that kind to mutate (e.g. no chunks): damage bytes instead
        }

        var seal = PickSeal(rng);
        if (seal != SealMode.None && context.StructureChanged && rng.Chance(50))
        {
            foreach (var image in images) image.FixStreamEndTotals();
            context.Log.Add("STREAM_END totals re-fitted to the new chunk order");
        }
        if (seal is SealMode.PayloadsOnly or SealMode.HeadersOnly)
            context.Log.Add(seal == SealMode.PayloadsOnly ? "only payload CRCs resealed" : "only header CRCs resealed");
        var bytes = images.Select(image => image.ToBytes(seal)).ToArray();
        ByteMutations.Execute(context, bytes);
        return (bytes, context.Log, seal == SealMode.All);
    }

    private static MutationFocus PickKind(FuzzRandom rng, MutationFocus focus)
    {
        if (focus != MutationFocus.Any)
            return rng.Chance(85) ? focus : (MutationFocus)rng.Between(1, 5);
        // Preamble, Header, Payload, Structure, Bytes.
        return (MutationFocus)(1 + rng.Weighted([8, 30, 22, 27, 13]));
    }

    private SealMode PickSeal(FuzzRandom rng)
    {
        if (rng.Chance(_options.ResealPercent)) return SealMode.All;
        return rng.Next(3) switch { 0 => SealMode.None, 1 => SealMode.PayloadsOnly, _ => SealMode.HeadersOnly };
    }
}

/// <summary>State shared by the mutation families while one case is built.</summary>
internal sealed class MutationContext(FuzzRandom rng, List<ChannelImage> channels, List<ChannelImage>? donor)
{
    internal FuzzRandom Rng { get; } = rng;
    internal List<ChannelImage> Channels { get; } = channels;
    internal List<ChannelImage>? Donor { get; } = donor;
    internal List<string> Log { get; } = [];
    /// <summary>Byte-level mutations, applied after serialization (channel index, description, action).</summary>
    internal List<(int Channel, Func<byte[], byte[]> Apply)> Deferred { get; } = [];
    internal bool StructureChanged { get; set; }

    /// <summary>A random (channel, chunk index) among chunks matching <paramref name="filter"/>; false if none.</summary>
    internal bool TryPickChunk(Func<ChunkImage, bool> filter, out int channel, out int index)
    {
        int total = 0;
        foreach (var image in Channels)
            foreach (var chunk in image.Chunks)
                if (filter(chunk)) total++;
        channel = index = -1;
        if (total == 0) return false;
        int pick = Rng.Next(total);
        for (int c = 0; c < Channels.Count; c++)
        {
            var chunks = Channels[c].Chunks;
            for (int i = 0; i < chunks.Count; i++)
            {
                if (!filter(chunks[i])) continue;
                if (pick-- == 0)
                {
                    channel = c;
                    index = i;
                    return true;
                }
            }
        }
        return false;
    }

    internal bool TryPickChunk(out int channel, out int index) => TryPickChunk(_ => true, out channel, out index);

    internal ChunkImage Chunk(int channel, int index) => Channels[channel].Chunks[index];

    internal void Record(int channel, int index, string what) =>
        Log.Add($"ch{channel} #{index} {Chunks(channel, index)}: {what}");

    private string Chunks(int channel, int index) => index < Channels[channel].Chunks.Count ? Channels[channel].Chunks[index].Label : "end";

    /// <summary>The announced max_payload of channel 0 (the limit mutations aim at), or the default.</summary>
    internal uint AnnouncedLimit
    {
        get
        {
            var p = Channels[0].Preamble;
            return p.Length >= Preamble.MaxPayloadOffset + 4
                ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(Preamble.MaxPayloadOffset))
                : WireLimits.MinMaxPayload;
        }
    }

    /// <summary>Device ids that appear in the stream.</summary>
    internal List<ushort> Devices()
    {
        var ids = new SortedSet<ushort>();
        foreach (var image in Channels)
            foreach (var chunk in image.Chunks)
                if (chunk.Device != 0) ids.Add(chunk.Device);
        return [.. ids];
    }
}
