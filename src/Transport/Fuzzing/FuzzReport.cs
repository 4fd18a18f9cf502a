using System.Globalization;
using System.Text;

namespace StreamKit.Transport.Fuzzing;

/// <summary>One broken invariant: which target, which input, how to reproduce it.</summary>
/// <param name="Target">Target name.</param>
/// <param name="Seed">Seed of the generated input.</param>
/// <param name="Iteration">Iteration of the generated input; −1 for a corpus file or a warm-up input.</param>
/// <param name="CorpusFile">The corpus file, when the input came from one.</param>
/// <param name="Kind">Exception type, "hang" or "slow".</param>
/// <param name="Message">What broke.</param>
/// <param name="Input">The input bytes.</param>
internal sealed record FuzzFinding(string Target, ulong Seed, long Iteration, string? CorpusFile, string Kind, string Message, byte[] Input)
{
    /// <summary>The input as hex (for logs and issue reports).</summary>
    public string InputHex => Convert.ToHexString(Input);

    /// <summary>The input as a C# collection expression, ready for a byte-array regression test.</summary>
    public string CSharpLiteral
    {
        get
        {
            var text = new StringBuilder("[");
            for (int i = 0; i < Input.Length; i++)
            {
                if (i > 0) text.Append(i % 24 == 0 ? ",\n " : ", ");
                text.Append("0x").Append(Input[i].ToString("X2", CultureInfo.InvariantCulture));
            }
            return text.Append(']').ToString();
        }
    }

    public override string ToString() =>
        $"{Target}: {Kind}: {Message}\n  input: {(CorpusFile is not null ? $"corpus file {CorpusFile}" : $"seed {Seed} iteration {Iteration}")}, {Input.Length} bytes\n  hex: {(Input.Length <= 4096 ? InputHex : InputHex[..8192] + "…")}";
}

/// <summary>What one target's run did.</summary>
internal sealed class FuzzTargetReport
{
    internal required string Target { get; init; }
    internal required ulong Seed { get; init; }
    internal long Generated { get; set; }
    internal long CorpusInputs { get; set; }
    internal TimeSpan Elapsed { get; set; }
    /// <summary>Time inside the target (generation excluded).</summary>
    internal TimeSpan TargetTime { get; set; }
    internal TimeSpan SlowestCall { get; set; }
    internal List<FuzzFinding> Findings { get; } = [];
    /// <summary>A call never returned: its thread was left behind.</summary>
    internal bool Abandoned { get; set; }

    internal long Executions => Generated + CorpusInputs;

    /// <summary>Executions per second, generation of the inputs included (what a fuzzing session achieves).</summary>
    internal double ExecutionsPerSecond => Elapsed.TotalSeconds > 0 ? Executions / Elapsed.TotalSeconds : 0;

    /// <summary>Executions per second of target time alone.</summary>
    internal double TargetExecutionsPerSecond => TargetTime.TotalSeconds > 0 ? Executions / TargetTime.TotalSeconds : 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Target,-17} {Executions,9} execs ({CorpusInputs} corpus) in {Elapsed.TotalSeconds,6:0.0} s: {ExecutionsPerSecond,8:0} execs/s ({TargetExecutionsPerSecond:0} in the target), slowest {SlowestCall.TotalMilliseconds:0.0} ms, {Findings.Count} finding(s){(Abandoned ? ", HUNG" : "")}");
}
