using System.Buffers;

namespace StreamKit.Transport;

/// <summary>What a <see cref="ReceiveWindow"/> read produced.</summary>
/// <param name="Buffer">All unconsumed bytes, in place in pooled blocks.</param>
/// <param name="IsCompleted">The peer finished sending (no more bytes will come).</param>
internal readonly record struct ReceiveResult(ReadOnlySequence<byte> Buffer, bool IsCompleted);
