namespace StreamKit.Wire;

/// <summary>
/// The one exception the stream reader and validator throw, whatever the input:
/// a code from the spec, a message, and the absolute stream offset where the fault was found.
/// </summary>
public sealed class StreamFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StreamFormatException(StreamErrorCode code, long streamOffset, string message, Exception? inner = null)
        : base($"{code} at stream offset {streamOffset}: {message}", inner)
    {
        Code = code;
        StreamOffset = streamOffset;
    }

    /// <summary>The spec's error code.</summary>
    public StreamErrorCode Code { get; }

    /// <summary>Byte offset from the start of the stream (channel) where the fault was detected; -1 if not tied to a position.</summary>
    public long StreamOffset { get; }
}
