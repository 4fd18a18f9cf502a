using System.Text.Json;
using System.Text.Json.Nodes;
using StreamKit.Transport.Control;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// <see cref="ControlRequestParser.Parse"/> on any bytes as one line. Byte 0 picks the role (bit 2)
/// and how many stand-in fds (0-2, never closed) come with the line; the rest is the line.
/// Invariants: only <see cref="ControlRequestException"/> escapes, with a spec code and a message;
/// its error reply serializes to one JSON line of at most 65536 bytes (spec §2.5) that echoes the code
/// and never more than a bounded excerpt of the input; an accepted request is re-checked by a second
/// JSON parser (System.Text.Json.Nodes): an object whose "id" and "op" are what the parser returned,
/// with no more fds than were attached; allocation stays proportional to the line.
/// </summary>
internal sealed class ControlRequestFuzzTarget : IFuzzTarget
{
    public static string Name => "control-request";

    /// <summary>Replies quote at most short excerpts of a request; anything longer grows with hostile input.</summary>
    internal const int MaxErrorReplyBytes = 4096;

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var role = (input[0] & 4) != 0 ? ControlRole.Destination : ControlRole.Source;
        var fds = new PassedFd[input[0] % 3];
        for (int i = 0; i < fds.Length; i++) fds[i] = PassedFd.NotOwned(1000 + i);
        // The line reader never delivers more than the line limit (LF excluded).
        byte[] line = input[1..Math.Min(input.Length, ControlLimits.MaxLineBytes)].ToArray();
        long bound = 64L * line.Length + 512 * 1024;
        var meter = AllocationMeter.Start();
        try
        {
            ControlRequest request;
            try
            {
                request = ControlRequestParser.Parse(line, fds, role);
            }
            catch (ControlRequestException e)
            {
                byte[] reply = ControlMessageWriter.ErrorReply(e.RequestId, e.Code, e.Message, e.Field);
                meter.Check(Name, bound, $"refusing a {line.Length}-byte line");
                CheckErrorReply(e, reply);
                return;
            }
            meter.Check(Name, bound, $"parsing a {line.Length}-byte line");
            CheckAccepted(request, line, fds.Length);
        }
        finally
        {
            foreach (var fd in fds) fd.Dispose();
        }
    }

    private static void CheckErrorReply(ControlRequestException e, byte[] reply)
    {
        if (!Enum.IsDefined(e.Code) || string.IsNullOrEmpty(e.Message))
            throw new FuzzInvariantException(Name, $"malformed error: {e.Code} \"{e.Message}\"", e);
        if (e.RequestId is < 0 or > ControlLimits.MaxRequestId)
            throw new FuzzInvariantException(Name, $"error reply echoes id {e.RequestId}, outside 0..2^53-1", e);
        if (reply.Length > ControlLimits.MaxLineBytes)
            throw new FuzzInvariantException(Name, $"the {e.Code} reply is {reply.Length} bytes, over the 65536-byte line limit (spec §2.5): {Excerpt(reply)}", e);
        if (reply.Length > MaxErrorReplyBytes)
            throw new FuzzInvariantException(Name, $"the {e.Code} reply is {reply.Length} bytes: it echoes an unbounded part of the request: {Excerpt(reply)}", e);
        if (reply[^1] != (byte)'\n' || Array.IndexOf(reply, (byte)'\n') != reply.Length - 1)
            throw new FuzzInvariantException(Name, "error reply is not exactly one LF-terminated line", e);
        var node = JsonNode.Parse(reply.AsSpan(0, reply.Length - 1));
        if (node?["ok"]?.GetValue<bool>() != false || node["error"]?["code"]?.GetValue<string>() != e.Code.Name())
            throw new FuzzInvariantException(Name, $"error reply does not say ok:false with code {e.Code.Name()}: {Excerpt(reply)}", e);
    }

    private static void CheckAccepted(ControlRequest request, byte[] line, int attached)
    {
        if (request.Fds.Count > attached)
            throw new FuzzInvariantException(Name, $"accepted {request} with {request.Fds.Count} fds, {attached} attached");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new FuzzInvariantException(Name, $"accepted a line the reference JSON parser rejects: {e.Message}", e);
        }
        if (node is not JsonObject obj)
            throw new FuzzInvariantException(Name, "accepted a line that is not a JSON object");
        if (obj["id"] is not JsonValue id || !id.TryGetValue(out long idValue) || idValue != request.Id)
            throw new FuzzInvariantException(Name, $"accepted id {request.Id}; the line's \"id\" is {obj["id"]?.ToJsonString()}");
        if (obj["op"]?.GetValue<string>() != request.Op)
            throw new FuzzInvariantException(Name, $"accepted op {request.Op}; the line's \"op\" is {obj["op"]?.ToJsonString()}");
    }

    private static string Excerpt(byte[] reply) =>
        System.Text.Encoding.UTF8.GetString(reply, 0, Math.Min(reply.Length, 200)) + (reply.Length > 200 ? "…" : "");

    public static byte[] Generate(ulong seed, long iteration)
    {
        var rng = FuzzRandom.For(seed, iteration, 20);
        return [(byte)rng.Next(8), .. ControlRequestGenerator.Line(rng)];
    }
}
