using System.Buffers;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>What a return-path image (receiver → sender, preamble role 1) held.</summary>
internal sealed record ReturnPathScanResult(Guid StreamId, ulong ReceiveWindow, long Bytes, IReadOnlyList<ReturnPathMessage> Messages,
    StreamFormatException? Fault)
{
    /// <summary>True when the image is well-formed and ends with FINAL_ACK or ERROR.</summary>
    internal bool Ok => Fault is null;
}

/// <summary>
/// verify/inspect of a captured return path: the same checks a sender applies (return-path reader,
/// <see cref="ReturnPathValidator"/>: ACKs and WINDOW never go back, records well-formed, FINAL_ACK or
/// ERROR at the end). Which direction a file holds is read from its preamble's role byte.
/// </summary>
internal static class ReturnPathScan
{
    /// <summary>Preamble offset of the role byte (spec/wire-format.md §2.1).</summary>
    private const int RoleOffset = 48;

    /// <summary>
    /// The return-path image among <paramref name="paths"/>, or null when they are forward channels.
    /// A return path is checked alone: it is one channel of its own.
    /// </summary>
    /// <exception cref="CliUsageException">A return path given together with other files.</exception>
    internal static string? Single(IReadOnlyList<string> paths)
    {
        int returnPaths = paths.Count(IsReturnPath);
        if (returnPaths == 0) return null;
        if (paths.Count > 1) throw new CliUsageException("a return-path image (preamble role 1) is checked on its own; give it without forward channel files");
        return paths[0];
    }

    /// <summary>True when <paramref name="path"/> starts with a StreamKit preamble whose role is the return path.</summary>
    internal static bool IsReturnPath(string path)
    {
        Span<byte> head = stackalloc byte[RoleOffset + 1];
        using var file = File.OpenRead(path);
        if (file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length) return false;
        return head[..8].SequenceEqual(Preamble.Magic) && head[RoleOffset] == (byte)PreambleRole.ReturnPath;
    }

    /// <summary>Reads and checks one return-path image (small: ACKs and records, read whole).</summary>
    internal static ReturnPathScanResult Run(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var messages = new List<ReturnPathMessage>();
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var buffer = new ReadOnlySequence<byte>(bytes);
        Preamble preamble = default;
        try
        {
            if (!reader.TryReadPreamble(ref buffer, out preamble)) reader.Finish(buffer);
            var validator = new ReturnPathValidator(preamble.StreamId);
            validator.AcceptPreamble(preamble);
            while (reader.TryReadChunk(ref buffer, out var chunk)) messages.Add(validator.Accept(chunk));
            reader.Finish(buffer);
            return new ReturnPathScanResult(preamble.StreamId, preamble.ReceiveWindow, bytes.Length, messages, null);
        }
        catch (StreamFormatException e)
        {
            return new ReturnPathScanResult(preamble.StreamId, preamble.ReceiveWindow, bytes.Length, messages, e);
        }
    }
}
