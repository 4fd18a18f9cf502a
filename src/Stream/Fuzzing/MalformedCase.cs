namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// One generated (possibly malformed) stream: the bytes of each channel exactly as they would travel,
/// what was done to them, and the (seed, iteration) that reproduces it.
/// </summary>
public sealed class MalformedCase
{
    internal MalformedCase(ulong seed, long iteration, PreambleRole direction, IReadOnlyList<byte[]> channels,
        string baseline, IReadOnlyList<string> mutations, bool crcsResealed)
    {
        Seed = seed;
        Iteration = iteration;
        Direction = direction;
        Channels = channels;
        Baseline = baseline;
        Mutations = mutations;
        CrcsResealed = crcsResealed;
    }

    /// <summary>The seed the case was generated from.</summary>
    public ulong Seed { get; }

    /// <summary>The iteration the case was generated for; (Seed, Iteration) reproduces it.</summary>
    public long Iteration { get; }

    /// <summary><see cref="PreambleRole.Forward"/> for sender → receiver streams, <see cref="PreambleRole.ReturnPath"/> for receiver → sender.</summary>
    public PreambleRole Direction { get; }

    /// <summary>The bytes of each channel, in the order they would be connected (preamble first).</summary>
    public IReadOnlyList<byte[]> Channels { get; }

    /// <summary>What the valid stream the mutations started from contained.</summary>
    public string Baseline { get; }

    /// <summary>Each mutation applied, in order; empty for a valid case.</summary>
    public IReadOnlyList<string> Mutations { get; }

    /// <summary>True when the CRCs were recomputed after the field mutations (byte-level mutations come after and are never resealed).</summary>
    public bool CrcsResealed { get; }

    /// <summary>True when at least one mutation was applied.</summary>
    public bool IsMutated => Mutations.Count > 0;

    /// <summary>One line per fact: seed and iteration, baseline, mutations.</summary>
    public string Description =>
        $"seed {Seed} iteration {Iteration}: {Baseline}" + (IsMutated
            ? $"; {(CrcsResealed ? "CRCs resealed" : "CRCs not resealed")}; mutations: {string.Join("; ", Mutations)}"
            : "; valid (no mutation)");

    /// <inheritdoc/>
    public override string ToString() => Description;
}
