namespace StreamKit.Transport.Fuzzing;

/// <summary>How long and on what a <see cref="FuzzRunner"/> runs one target.</summary>
internal sealed class FuzzRunOptions
{
    /// <summary>Seed of the generated inputs; (seed, iteration) reproduces each one.</summary>
    public ulong Seed { get; init; }

    /// <summary>First generated iteration (to resume or to reproduce one case).</summary>
    public long StartIteration { get; init; }

    /// <summary>Generated inputs to run (after the corpus); the run also stops at <see cref="Duration"/>.</summary>
    public long Iterations { get; init; } = long.MaxValue;

    /// <summary>Time cap for the whole run (corpus and generated inputs); null for none.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>A call that takes longer is a finding (a hang or a pathological slowdown).</summary>
    public TimeSpan CallTimeLimit { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Directories whose files are run first, each file one input.</summary>
    public IReadOnlyList<string> CorpusDirectories { get; init; } = [];

    /// <summary>Stop after this many findings.</summary>
    public int MaxFindings { get; init; } = 5;

    /// <summary>Inputs run first with the allocation checks off (type initializers allocate once per process).</summary>
    public int WarmupInputs { get; init; } = 3;

    /// <summary>Corpus files larger than this are skipped.</summary>
    public int MaxInputBytes { get; init; } = 4 * 1024 * 1024;
}
