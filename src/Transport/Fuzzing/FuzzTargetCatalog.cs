using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>A fuzz target's entry point (the shape libFuzzer/SharpFuzz and the AFL++ driver call).</summary>
internal delegate void FuzzAction(ReadOnlySpan<byte> input);

/// <summary>One fuzz target as the runner sees it.</summary>
/// <param name="Name">Kebab-case name: corpus folder, --target value.</param>
/// <param name="Type">The class implementing <see cref="IFuzzTarget"/>.</param>
/// <param name="Fuzz">The entry point.</param>
/// <param name="Generate">Structure-aware input for (seed, iteration).</param>
internal sealed record FuzzTargetInfo(string Name, Type Type, FuzzAction Fuzz, Func<ulong, long, byte[]> Generate)
{
    internal static FuzzTargetInfo Of<T>() where T : IFuzzTarget => new(T.Name, typeof(T), T.Fuzz, T.Generate);

    public override string ToString() => Name;
}

/// <summary>Every fuzz target of StreamKit (tests fail when a class implementing <see cref="IFuzzTarget"/> is missing here or has no test).</summary>
internal static class FuzzTargetCatalog
{
    internal static IReadOnlyList<FuzzTargetInfo> All { get; } =
    [
        FuzzTargetInfo.Of<PreambleFuzzTarget>(),
        FuzzTargetInfo.Of<ChunkHeaderFuzzTarget>(),
        FuzzTargetInfo.Of<ChunkReaderFuzzTarget>(),
        FuzzTargetInfo.Of<StreamValidatorFuzzTarget>(),
        FuzzTargetInfo.Of<ReturnPathFuzzTarget>(),
        FuzzTargetInfo.Of<ControlRequestFuzzTarget>(),
        FuzzTargetInfo.Of<ControlLineFuzzTarget>(),
        FuzzTargetInfo.Of<ReceiverSessionFuzzTarget>(),
    ];

    /// <summary>The target named <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No such target; the message lists the names.</exception>
    internal static FuzzTargetInfo Find(string name) =>
        All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"no fuzz target \"{name}\"; targets: {string.Join(", ", All.Select(t => t.Name))}", nameof(name));
}
