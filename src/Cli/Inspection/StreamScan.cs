using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>What a scan of channel files found: the validator's summary (complete or partial) and the first fault.</summary>
internal sealed record ScanResult(StreamSummary Summary, StreamFormatException? Fault, string? FaultFile, IReadOnlyList<ScannedChannel> Channels)
{
    /// <summary>True when every channel ended and every device verified.</summary>
    internal bool Ok => Fault is null && Summary.IsComplete;
}

/// <summary>One channel file and its size.</summary>
internal sealed record ScannedChannel(string Path, int Index, long Bytes);

/// <summary>
/// Reads one stream from channel files (one file per channel; a <c>file:</c> save is one channel)
/// and runs the full validation of spec §5 over it, the way a live receiver would: preambles first,
/// then one chunk per channel in turn, then the end-of-input checks. Streaming: memory is one
/// chunk per channel plus the validator's bounded reassembly buffer, whatever the file sizes.
/// </summary>
internal static class StreamScan
{
    /// <summary>Scans <paramref name="paths"/>; <paramref name="onChunk"/> sees every chunk (header and channel offset) before validation.</summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    internal static ScanResult Run(IReadOnlyList<string> paths, IStreamEvents? events, Action<int, Chunk>? onChunk = null)
    {
        var validator = new StreamValidator(new StreamValidatorOptions(), events);
        var files = new List<ChannelFile>(paths.Count);
        var channelIndex = new Dictionary<ChannelFile, int>();
        ChannelFile? current = null;
        try
        {
            foreach (string path in paths) files.Add(new ChannelFile(path, new ChunkReaderOptions()));
            foreach (var file in files)
            {
                current = file;
                var buffer = file.Unread;
                Preamble preamble;
                while (!file.Reader.TryReadPreamble(ref buffer, out preamble))
                {
                    if (!file.Fill()) file.Reader.Finish(file.Unread); // throws: truncated preamble
                    buffer = file.Unread;
                }
                file.Consume(buffer);
                validator.AcceptPreamble(preamble);
                channelIndex[file] = preamble.ChannelIndex;
            }

            bool progress = true;
            while (progress)
            {
                progress = false;
                foreach (var file in files)
                {
                    if (file.Done) continue;
                    current = file;
                    var buffer = file.Unread;
                    if (file.Reader.TryReadChunk(ref buffer, out var chunk))
                    {
                        onChunk?.Invoke(channelIndex[file], chunk);
                        validator.AcceptChunk(channelIndex[file], chunk);
                        file.Consume(buffer);
                        progress = true;
                    }
                    else if (file.Fill())
                    {
                        progress = true;
                    }
                    else
                    {
                        file.Reader.Finish(file.Unread); // throws unless the channel ended cleanly
                        file.Done = true;
                    }
                }
            }
            current = null;
            validator.Complete();
            return new ScanResult(validator.Summary, null, null, Describe(files, channelIndex));
        }
        catch (StreamFormatException e)
        {
            return new ScanResult(validator.Summary, e, current?.Path, Describe(files, channelIndex));
        }
        finally
        {
            foreach (var file in files) file.Dispose();
        }
    }

    private static List<ScannedChannel> Describe(List<ChannelFile> files, Dictionary<ChannelFile, int> index) =>
        files.Select(f => new ScannedChannel(f.Path, index.TryGetValue(f, out int i) ? i : -1, new FileInfo(f.Path).Length)).ToList();
}
