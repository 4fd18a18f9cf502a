namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// A fuzz target (Garnet's shape): one static entry point taking any bytes, callable from the
/// in-house runner, from a libFuzzer/SharpFuzz harness and from the AFL++ stdin driver. It returns
/// normally for every input the code under test handles correctly — including inputs it rejects
/// with its typed error — and throws anything else (an unexpected exception type, or a
/// <see cref="FuzzInvariantException"/> from one of its own checks) as a finding.
/// </summary>
internal interface IFuzzTarget
{
    /// <summary>Short kebab-case name: the corpus folder, the runner's and CLI's target name.</summary>
    static abstract string Name { get; }

    /// <summary>Runs one input through the code under test and checks the invariants.</summary>
    static abstract void Fuzz(ReadOnlySpan<byte> input);

    /// <summary>A structure-aware input for this target, a pure function of (seed, iteration).</summary>
    static abstract byte[] Generate(ulong seed, long iteration);
}

/// <summary>A broken invariant found by a fuzz target (never thrown by product code).</summary>
internal sealed class FuzzInvariantException(string target, string message, Exception? inner = null)
    : Exception($"{target}: {message}", inner)
{
    internal string Target { get; } = target;
}
