using System.Buffers;
using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// Incremental reader of one channel (either direction) over <see cref="ReadOnlySequence{T}"/> input,
/// shaped for System.IO.Pipelines:
/// <code>
/// var buffer = result.Buffer;
/// while (reader.TryReadChunk(ref buffer, out var chunk)) Handle(chunk);
/// if (result.IsCompleted) reader.Finish(buffer);          // throws if the input stopped mid-way
/// pipe.AdvanceTo(buffer.Start, buffer.End);
/// </code>
/// It checks the preamble, every header (sync, CRC, flags, per-type rules, lengths against
/// min(announced max_payload, local limit) before waiting for or touching the payload) and every
/// payload CRC, and returns payloads as slices of the input without copying. It tracks the absolute
/// channel offset for errors. Whatever the input, the only exception it throws is
/// <see cref="StreamFormatException"/>. Ordering across chunks is the <see cref="StreamValidator"/>'s job.
/// </summary>
public sealed class ChunkReader
{
    private readonly ChunkReaderOptions _options;
    private readonly PayloadDecoder _decoder = new();
    private Preamble _preamble;
    private bool _hasPreamble;
    private uint _limit;
    private bool _lz4Announced;
    private bool _hasPending;
    private ChunkHeader _pending;
    private long _hashedBytes; // leading payload bytes of the pending chunk already in _hashedCrc
    private uint _hashedCrc;

    /// <summary>Creates a reader with the given local limits (defaults if null).</summary>
    public ChunkReader(ChunkReaderOptions? options = null) => _options = options ?? new ChunkReaderOptions();

    /// <summary>The channel's preamble once read.</summary>
    /// <exception cref="InvalidOperationException">Not read yet.</exception>
    public Preamble Preamble => _hasPreamble ? _preamble : throw new InvalidOperationException("the preamble has not been read yet");

    /// <summary>True once the preamble has been read and checked.</summary>
    public bool HasPreamble => _hasPreamble;

    /// <summary>Absolute channel offset of the next unread byte.</summary>
    public long Position { get; private set; }

    /// <summary>Chunks read so far.</summary>
    public long ChunksRead { get; private set; }

    /// <summary>True once the channel's terminal chunk (STREAM_END / ABORT, or FINAL_ACK / ERROR) was read.</summary>
    public bool IsEnded { get; private set; }

    /// <summary>The payload limit in force: min(announced max_payload, local limit).</summary>
    public uint EffectiveMaxPayload => _limit;

    /// <summary>
    /// Reads and checks the preamble if <paramref name="buffer"/> holds all of it; on success slices it off.
    /// A wrong magic is reported as soon as the first differing byte is present.
    /// </summary>
    public bool TryReadPreamble(ref ReadOnlySequence<byte> buffer, out Preamble preamble)
    {
        if (_hasPreamble) throw new InvalidOperationException("the preamble has already been read");
        preamble = default;
        Span<byte> prefix = stackalloc byte[Preamble.FixedPrefix];
        int have = (int)Math.Min(buffer.Length, Preamble.FixedPrefix);
        buffer.Slice(0, have).CopyTo(prefix);
        if (have < Preamble.FixedPrefix)
        {
            CheckMagicPrefix(prefix[..Math.Min(have, 8)]);
            return false;
        }
        int length = Preamble.PeekLength(prefix);
        if (buffer.Length < length) return false;

        byte[]? rented = null;
        Span<byte> whole = length <= 512 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            buffer.Slice(0, length).CopyTo(whole);
            preamble = Preamble.Decode(whole);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
        CheckPreamble(preamble);
        _preamble = preamble;
        _hasPreamble = true;
        _limit = Math.Min(preamble.MaxPayload, _options.MaxPayload);
        _lz4Announced = (preamble.Capabilities & StreamCapabilities.Lz4) != 0;
        Position = length;
        buffer = buffer.Slice(length);
        return true;
    }

    /// <summary>
    /// For input whose preamble a transport already read and checked (a listener): start at the first
    /// chunk, as if <see cref="TryReadPreamble"/> had read <paramref name="preamble"/> of <paramref name="length"/> bytes.
    /// </summary>
    /// <exception cref="StreamFormatException">The preamble breaks this reader's expectations (role, max_payload, codecs).</exception>
    internal void StartAfterPreamble(in Preamble preamble, int length)
    {
        if (_hasPreamble) throw new InvalidOperationException("the preamble has already been read");
        CheckPreamble(preamble);
        _preamble = preamble;
        _hasPreamble = true;
        _limit = Math.Min(preamble.MaxPayload, _options.MaxPayload);
        _lz4Announced = (preamble.Capabilities & StreamCapabilities.Lz4) != 0;
        Position = length;
    }

    /// <summary>Bytes the next <see cref="TryReadChunk"/> needs buffered: the whole chunk once its header was read, else a header.</summary>
    internal long NextChunkBytes => _hasPending ? ChunkHeader.Size + (long)_pending.WireLength : ChunkHeader.Size;

    /// <summary>
    /// Reads the next chunk if <paramref name="buffer"/> holds all of it (reading the preamble first if
    /// needed); on success slices it off. Returns false when more input is needed (or the channel has
    /// ended and no bytes follow). A header is checked as soon as its 48 bytes are present, so a bad or
    /// over-limit length fails before the payload is awaited.
    /// </summary>
    public bool TryReadChunk(ref ReadOnlySequence<byte> buffer, out Chunk chunk)
    {
        chunk = default;
        if (!_hasPreamble && !TryReadPreamble(ref buffer, out _)) return false;
        if (IsEnded)
        {
            if (!buffer.IsEmpty)
                throw new StreamFormatException(StreamErrorCode.UnexpectedChunk, Position, $"{buffer.Length} bytes follow the channel's last chunk");
            return false;
        }
        if (!_hasPending)
        {
            if (buffer.Length < ChunkHeader.Size)
            {
                CheckSyncPrefix(buffer);
                return false;
            }
            _pending = DecodeHeader(buffer);
            _hasPending = true;
        }
        long total = ChunkHeader.Size + (long)_pending.WireLength;
        if (buffer.Length < total) return false;

        var payload = buffer.Slice(ChunkHeader.Size, _pending.WireLength);
        if (_pending.WireLength != 0)
        {
            uint crc = AppendCrc(_hashedCrc, payload.Slice(_hashedBytes));
            _hashedBytes = 0;
            _hashedCrc = 0;
            if (crc != _pending.PayloadCrc)
                throw new StreamFormatException(StreamErrorCode.PayloadChecksumMismatch, Position + ChunkHeader.Size,
                    $"{ChunkTypeRules.Name(_pending.Type)} payload CRC32C 0x{_pending.PayloadCrc:X8}, computed 0x{crc:X8}");
        }
        else if (_pending.PayloadCrc != 0)
        {
            throw new StreamFormatException(StreamErrorCode.PayloadChecksumMismatch, Position + ChunkHeader.PayloadCrcOffset,
                $"{ChunkTypeRules.Name(_pending.Type)} has no payload but payload_crc 0x{_pending.PayloadCrc:X8}");
        }
        chunk = new Chunk(_pending, payload, Position, ChunksRead);
        _hasPending = false;
        Position += total;
        ChunksRead++;
        if (ChunkTypeRules.IsTerminal(_pending.Type)) IsEnded = true;
        buffer = buffer.Slice(total);
        return true;
    }

    /// <summary>
    /// Hashes what has arrived of the pending chunk's payload, <paramref name="buffer"/> being what
    /// <see cref="TryReadChunk"/> left unread (it starts at that chunk's header). A receive loop that reads a large
    /// chunk in steps calls it after each, while the bytes just received are still in the CPU's cache:
    /// <see cref="TryReadChunk"/> then only hashes the rest and checks the whole. A payload read back after the
    /// last step had partly left the cache (the socket copy moves as many bytes through it), and the check ran at
    /// about half the speed it has on cached data. Nothing is trusted earlier: the chunk is still returned only
    /// once every byte matched its CRC32C.
    /// </summary>
    internal void HashArrivedPayload(in ReadOnlySequence<byte> buffer)
    {
        if (!_hasPending || buffer.Length <= ChunkHeader.Size) return;
        long arrived = Math.Min(buffer.Length - ChunkHeader.Size, _pending.WireLength);
        if (arrived <= _hashedBytes) return;
        _hashedCrc = AppendCrc(_hashedCrc, buffer.Slice(ChunkHeader.Size + _hashedBytes, arrived - _hashedBytes));
        _hashedBytes = arrived;
    }

    /// <summary>
    /// Call when the input has ended, with what <see cref="TryReadChunk"/> left unread. Throws the
    /// truncation error that applies: inside the preamble, a header or a payload, or — at a chunk
    /// boundary — a channel that never sent its terminal chunk (connection close never ends a stream).
    /// </summary>
    /// <exception cref="StreamFormatException">TruncatedPreamble, TruncatedHeader, TruncatedPayload or TruncatedStream.</exception>
    public void Finish(ReadOnlySequence<byte> remaining)
    {
        long end = Position + remaining.Length;
        if (!_hasPreamble)
            throw new StreamFormatException(StreamErrorCode.TruncatedPreamble, end, $"input ended after {end} bytes, inside the preamble");
        if (_hasPending)
            throw new StreamFormatException(StreamErrorCode.TruncatedPayload, end,
                $"input ended inside the {ChunkTypeRules.Name(_pending.Type)} payload of the chunk at {Position} ({remaining.Length - ChunkHeader.Size} of {_pending.WireLength} bytes)");
        if (remaining.Length >= ChunkHeader.Size)
            throw new InvalidOperationException("a complete header is unread: call TryReadChunk until it returns false before Finish");
        if (!remaining.IsEmpty)
            throw new StreamFormatException(StreamErrorCode.TruncatedHeader, end, $"input ended inside the chunk header at {Position} ({remaining.Length} of {ChunkHeader.Size} bytes)");
        if (!IsEnded)
            throw new StreamFormatException(StreamErrorCode.TruncatedStream, end,
                _preamble.Role == PreambleRole.Forward ? "channel ended without STREAM_END" : "return path ended without FINAL_ACK or ERROR");
    }

    /// <summary>
    /// Decodes a chunk's payload into <paramref name="destination"/> (at least raw_length bytes): copies
    /// stored bytes, zero-fills a ZERO_RUN, or LZ4-decodes. Returns raw_length.
    /// </summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.DecompressionFailed"/> or <see cref="StreamErrorCode.CodecUnavailable"/>.</exception>
    public int DecodePayload(in Chunk chunk, Span<byte> destination) => _decoder.Decode(chunk, destination);

    private ChunkHeader DecodeHeader(in ReadOnlySequence<byte> buffer)
    {
        ChunkHeader header;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= ChunkHeader.Size)
        {
            header = ChunkHeader.Decode(first, Position);
        }
        else
        {
            Span<byte> copy = stackalloc byte[ChunkHeader.Size];
            buffer.Slice(0, ChunkHeader.Size).CopyTo(copy);
            header = ChunkHeader.Decode(copy, Position);
        }
        ChunkHeaderRules.Check(header, Position, _preamble.Role, _limit, _lz4Announced);
        return header;
    }

    private void CheckPreamble(in Preamble p)
    {
        if (p.Role != _options.ExpectedRole)
            throw new StreamFormatException(StreamErrorCode.BadPreambleField, Preamble.RoleOffset, $"preamble role {p.Role}, expected {_options.ExpectedRole}");
        if (p.MaxPayload < WireLimits.MinMaxPayload)
            throw new StreamFormatException(StreamErrorCode.BadPreambleField, Preamble.MaxPayloadOffset, $"max_payload {p.MaxPayload} is below the minimum {WireLimits.MinMaxPayload}");
        if ((p.Capabilities & StreamCapabilities.SwitchoverAck) != 0 && (p.Capabilities & StreamCapabilities.ReturnPath) == 0)
            throw new StreamFormatException(StreamErrorCode.BadPreambleField, Preamble.CapabilitiesOffset, "SWITCHOVER_ACK capability without RETURN_PATH");
        if (_options.RequireCodecs && (p.Capabilities & StreamCapabilities.Lz4) != 0 && !Lz4Codec.IsAvailable)
            throw new StreamFormatException(StreamErrorCode.UnsupportedCapability, Preamble.CapabilitiesOffset,
                "the stream announces LZ4 but liblz4.so.1 is missing: install the Debian package liblz4-1");
    }

    private static void CheckMagicPrefix(ReadOnlySpan<byte> available)
    {
        ReadOnlySpan<byte> magic = Preamble.Magic;
        for (int i = 0; i < available.Length; i++)
            if (available[i] != magic[i])
                throw new StreamFormatException(StreamErrorCode.BadMagic, i, $"not a StreamKit stream: magic byte {i} is 0x{available[i]:X2}, expected 0x{magic[i]:X2}");
    }

    private void CheckSyncPrefix(in ReadOnlySequence<byte> buffer)
    {
        int n = (int)Math.Min(buffer.Length, 4);
        if (n == 0) return;
        Span<byte> sync = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(sync, ChunkHeader.SyncWord);
        Span<byte> have = stackalloc byte[4];
        buffer.Slice(0, n).CopyTo(have);
        if (!have[..n].SequenceEqual(sync[..n]))
            throw new StreamFormatException(StreamErrorCode.BadSync, Position, "expected the chunk sync word \"SKCH\"");
    }

    internal static uint ComputeCrc(in ReadOnlySequence<byte> payload) => AppendCrc(0, payload);

    /// <summary>The CRC32C of the bytes behind <paramref name="crc"/> followed by <paramref name="payload"/> (0 = nothing before).</summary>
    private static uint AppendCrc(uint crc, in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment) return Crc32C.Append(crc, payload.FirstSpan);
        foreach (var segment in payload) crc = Crc32C.Append(crc, segment.Span);
        return crc;
    }
}
