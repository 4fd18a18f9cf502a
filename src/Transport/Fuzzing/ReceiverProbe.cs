using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>How a live receiver answered one malformed stream.</summary>
internal enum ProbeAnswer
{
    /// <summary>No channel could connect.</summary>
    ConnectFailed,
    /// <summary>An ERROR chunk on a return path (the expected answer to a malformed stream).</summary>
    Error,
    /// <summary>FINAL_ACK with status 0: the receiver accepted and committed the stream.</summary>
    FinalAck,
    /// <summary>FINAL_ACK with a non-zero status.</summary>
    FinalAckFailure,
    /// <summary>Every connection was closed without an ERROR or FINAL_ACK.</summary>
    Closed,
    /// <summary>A connection was reset without an ERROR or FINAL_ACK.</summary>
    Reset,
    /// <summary>No answer within the answer timeout.</summary>
    TimedOut,
    /// <summary>The return path itself was malformed (its format error is in the detail).</summary>
    BadReturnPath,
}

/// <summary>One probed case.</summary>
/// <param name="Iteration">Iteration of the case (with the run's seed it reproduces it).</param>
/// <param name="Description">What the case is (<see cref="MalformedCase.Description"/>).</param>
/// <param name="Channels">Channels the case has.</param>
/// <param name="Connected">Channels that connected.</param>
/// <param name="Answer">How the receiver answered.</param>
/// <param name="Code">ERROR reason or FINAL_ACK status.</param>
/// <param name="Text">ERROR text.</param>
/// <param name="AnsweringChannel">Connection the answer came on (−1 if none).</param>
/// <param name="Reference">What <see cref="StreamValidator.Verify"/> says about the same bytes (null: valid).</param>
/// <param name="Elapsed">Connect to answer.</param>
/// <param name="Detail">Send failures, return-path format errors, timeouts.</param>
internal sealed record ProbeResult(long Iteration, string Description, int Channels, int Connected, ProbeAnswer Answer, StreamErrorCode Code,
    string? Text, int AnsweringChannel, StreamErrorCode? Reference, TimeSpan Elapsed, string? Detail)
{
    /// <summary>The receiver gave the verdict the reference validator gives (accepted a valid stream, or reported the same error code).</summary>
    internal bool AgreesWithReference => Answer switch
    {
        ProbeAnswer.FinalAck => Reference is null,
        ProbeAnswer.Error or ProbeAnswer.FinalAckFailure => Reference == Code,
        _ => false,
    };

    public override string ToString()
    {
        string answer = Answer switch
        {
            ProbeAnswer.Error or ProbeAnswer.FinalAckFailure => $"{Answer} {Name(Code)} on ch{AnsweringChannel}",
            ProbeAnswer.FinalAck => $"FinalAck on ch{AnsweringChannel}",
            _ => Answer.ToString(),
        };
        string reference = Reference is { } r ? Name(r) : "valid";
        return string.Create(CultureInfo.InvariantCulture,
            $"#{Iteration,-6} {answer,-44} reference {reference,-26} {(AgreesWithReference ? "agree " : "DIFFER")} {Connected}/{Channels} ch {Elapsed.TotalMilliseconds,6:0} ms{(Detail is null ? "" : $" ({Detail})")}\n        {Description}");
    }

    private static string Name(StreamErrorCode code) => Enum.IsDefined(code) ? $"{code} ({(uint)code})" : ((uint)code).ToString(CultureInfo.InvariantCulture);
}

/// <summary>What the probe sends and how long it waits.</summary>
internal sealed class ReceiverProbeOptions
{
    /// <summary>The receiver: <c>tcp://host:port</c> (or <c>unix:/path</c>).</summary>
    public required TransportAddress Target { get; init; }
    public ulong Seed { get; init; }
    public long StartIteration { get; init; }
    public int Count { get; init; } = 100;
    public MutationFocus Focus { get; init; } = MutationFocus.Any;
    public MalformedStreamOptions? Generator { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Longest wait for an answer after connecting.</summary>
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Shut down the sending side after the last byte, so a receiver waiting for more sees the end of input at once.</summary>
    public bool HalfClose { get; init; } = true;
}

/// <summary>
/// Sends generated malformed streams to a live receiver — one connection per channel, all channels
/// sent concurrently — and classifies how it answered each: the return path (role-1 preamble, then
/// ERROR / FINAL_ACK) is read from every connection with <see cref="ChunkReader"/> and
/// <see cref="ReturnPathValidator"/>, so a receiver that answers in a malformed way is caught too.
/// Each answer is compared with what <see cref="StreamValidator.Verify"/> says about the same bytes.
/// Used by <c>streamkit fuzz --target tcp://…</c>.
/// </summary>
internal static class ReceiverProbe
{
    private const int MaxReturnPathBytes = 256 * 1024;
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(200);

    private enum ChannelOutcome { Terminal, Closed, Reset, TimedOut, Bad }

    private sealed record ChannelAnswer(int Channel, ChannelOutcome Outcome, ChunkType Type = default, StreamErrorCode Code = default, string? Text = null, string? Detail = null);

    /// <summary>Probes <see cref="ReceiverProbeOptions.Count"/> cases one after another.</summary>
    internal static async Task<IReadOnlyList<ProbeResult>> RunAsync(ReceiverProbeOptions options, IProgress<ProbeResult>? progress = null, CancellationToken cancellationToken = default)
    {
        if (options.Target.Scheme is not (TransportScheme.Tcp or TransportScheme.Unix))
            throw new ArgumentException($"the probe sends over tcp:// or unix: addresses, not {options.Target}", nameof(options));
        var generator = new MalformedStreamGenerator(options.Generator);
        var results = new List<ProbeResult>(options.Count);
        for (long i = options.StartIteration; i < options.StartIteration + options.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = await ProbeAsync(generator.Generate(options.Seed, i, options.Focus), options, cancellationToken).ConfigureAwait(false);
            results.Add(result);
            progress?.Report(result);
        }
        return results;
    }

    /// <summary>Sends one case and classifies the answer.</summary>
    internal static async Task<ProbeResult> ProbeAsync(MalformedCase c, ReceiverProbeOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var reference = Reference(c);
        var sockets = new List<Socket>();
        string? detail = null;
        try
        {
            for (int i = 0; i < c.Channels.Count; i++)
            {
                var socket = options.Target.Scheme == TransportScheme.Unix
                    ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                connect.CancelAfter(options.ConnectTimeout);
                try
                {
                    if (options.Target.Scheme == TransportScheme.Unix)
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(options.Target.Path!), connect.Token).ConfigureAwait(false);
                    else
                        await socket.ConnectAsync(options.Target.Host!, options.Target.Port, connect.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    socket.Dispose();
                    detail = $"channel {i} did not connect: {(e is SocketException s ? s.SocketErrorCode.ToString() : "timeout")}";
                    break;
                }
                sockets.Add(socket);
            }
            if (sockets.Count == 0)
                return new ProbeResult(c.Iteration, c.Description, c.Channels.Count, 0, ProbeAnswer.ConnectFailed, 0, null, -1, reference, clock.Elapsed, detail);

            using var answer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            answer.CancelAfter(options.AnswerTimeout);
            var reads = sockets.Select((s, i) => ReadAnswerAsync(s, i, StreamIdOf(c.Channels[i]), answer.Token)).ToList();
            var sends = sockets.Select((s, i) => SendAsync(s, i, c.Channels[i], options.HalfClose, answer.Token)).ToList();

            var pending = new List<Task<ChannelAnswer>>(reads);
            while (pending.Count > 0)
            {
                var done = await Task.WhenAny(pending).ConfigureAwait(false);
                pending.Remove(done);
                if (done.Result.Outcome == ChannelOutcome.Terminal) answer.CancelAfter(Grace); // the verdict is in; let the others wind down
            }
            var failures = (await Task.WhenAll(sends).ConfigureAwait(false)).OfType<string>().ToList();
            if (failures.Count > 0) detail = string.Join("; ", failures.Prepend(detail).OfType<string>());
            return Classify(c, reads.Select(r => r.Result).ToList(), sockets.Count, reference, clock.Elapsed, detail);
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    private static ProbeResult Classify(MalformedCase c, List<ChannelAnswer> answers, int connected, StreamErrorCode? reference, TimeSpan elapsed, string? detail)
    {
        string? Join(IEnumerable<string?> parts) => string.Join("; ", parts.Append(detail).OfType<string>()) is { Length: > 0 } s ? s : null;
        var terminal = answers.FirstOrDefault(a => a.Outcome == ChannelOutcome.Terminal);
        if (terminal is not null)
        {
            var kind = terminal.Type == ChunkType.Error ? ProbeAnswer.Error : terminal.Code == StreamErrorCode.None ? ProbeAnswer.FinalAck : ProbeAnswer.FinalAckFailure;
            return new ProbeResult(c.Iteration, c.Description, c.Channels.Count, connected, kind, terminal.Code, terminal.Text, terminal.Channel, reference, elapsed, detail);
        }
        var outcome = answers.Any(a => a.Outcome == ChannelOutcome.Bad) ? ProbeAnswer.BadReturnPath
            : answers.Any(a => a.Outcome == ChannelOutcome.TimedOut) ? ProbeAnswer.TimedOut
            : answers.Any(a => a.Outcome == ChannelOutcome.Reset) ? ProbeAnswer.Reset
            : ProbeAnswer.Closed;
        return new ProbeResult(c.Iteration, c.Description, c.Channels.Count, connected, outcome, 0, null, -1, reference, elapsed,
            Join(answers.Select(a => a.Detail is null ? null : $"ch{a.Channel}: {a.Detail}")));
    }

    private static async Task<string?> SendAsync(Socket socket, int channel, byte[] bytes, bool halfClose, CancellationToken cancellationToken)
    {
        int sent = 0;
        try
        {
            while (sent < bytes.Length)
                sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (halfClose) socket.Shutdown(SocketShutdown.Send);
            return null;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A receiver may stop reading and close once it has found the fault: that is not a failure of the probe.
            return string.Create(CultureInfo.InvariantCulture, $"ch{channel} stopped after {sent} of {bytes.Length} bytes: {(e is SocketException s ? s.SocketErrorCode.ToString() : "timeout")}");
        }
    }

    private static async Task<ChannelAnswer> ReadAnswerAsync(Socket socket, int channel, Guid? streamId, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxReturnPathBytes];
        int length = 0, consumed = 0;
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath, RequireCodecs = false });
        ReturnPathValidator? validator = null;
        int acks = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                    return new ChannelAnswer(channel, ChannelOutcome.Bad, Detail: $"more than {MaxReturnPathBytes} return-path bytes without a terminal chunk");
                int n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                var rest = new ReadOnlySequence<byte>(buffer, consumed, length + n - consumed);
                if (n == 0)
                {
                    if (length == 0) return new ChannelAnswer(channel, ChannelOutcome.Closed);
                    reader.Finish(rest); // throws: the return path ended without ERROR / FINAL_ACK
                    return new ChannelAnswer(channel, ChannelOutcome.Closed);
                }
                length += n;
                if (!reader.HasPreamble && reader.TryReadPreamble(ref rest, out var preamble))
                {
                    validator = new ReturnPathValidator(streamId ?? preamble.StreamId);
                    validator.AcceptPreamble(preamble);
                }
                while (validator is not null && reader.TryReadChunk(ref rest, out var chunk))
                {
                    var message = validator.Accept(chunk);
                    if (message.Error is { } error) return new ChannelAnswer(channel, ChannelOutcome.Terminal, ChunkType.Error, error.Reason, error.Text);
                    if (message.FinalAck is { } final) return new ChannelAnswer(channel, ChannelOutcome.Terminal, ChunkType.FinalAck, final.Status);
                    acks++;
                }
                consumed = length - (int)rest.Length;
            }
        }
        catch (StreamFormatException e)
        {
            var outcome = e.Code == StreamErrorCode.TruncatedStream || e.Code is StreamErrorCode.TruncatedPreamble or StreamErrorCode.TruncatedHeader or StreamErrorCode.TruncatedPayload
                ? ChannelOutcome.Closed : ChannelOutcome.Bad;
            return new ChannelAnswer(channel, outcome, Detail: $"return path after {length} bytes, {acks} message(s): {e.Message}");
        }
        catch (SocketException e)
        {
            return new ChannelAnswer(channel, e.SocketErrorCode == SocketError.ConnectionReset ? ChannelOutcome.Reset : ChannelOutcome.Closed,
                Detail: $"{e.SocketErrorCode} after {length} return-path bytes");
        }
        catch (OperationCanceledException)
        {
            return new ChannelAnswer(channel, ChannelOutcome.TimedOut, Detail: $"no answer ({length} return-path bytes)");
        }
    }

    /// <summary>The stream id a channel's preamble carries (the answer on that connection must echo it), if it has one.</summary>
    private static Guid? StreamIdOf(byte[] channel) =>
        channel.Length >= Preamble.StreamIdOffset + 16 ? new Guid(channel.AsSpan(Preamble.StreamIdOffset, 16), bigEndian: true) : null;

    /// <summary>What the reference validator says about the case: null when it accepts it.</summary>
    internal static StreamErrorCode? Reference(MalformedCase c)
    {
        try
        {
            StreamValidator.Verify(c.Channels.Select(b => new ReadOnlySequence<byte>(b)).ToList());
            return null;
        }
        catch (StreamFormatException e)
        {
            return e.Code;
        }
    }

    /// <summary>One block per case, then a tally.</summary>
    internal static string Format(IReadOnlyList<ProbeResult> results)
    {
        var text = new StringBuilder();
        foreach (var r in results) text.AppendLine(r.ToString());
        text.Append(CultureInfo.InvariantCulture, $"{results.Count} case(s): ");
        text.Append(string.Join(", ", results.GroupBy(r => r.Answer).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
        text.Append(CultureInfo.InvariantCulture, $"; {results.Count(r => r.AgreesWithReference)} agree with the reference validator");
        return text.ToString();
    }
}
