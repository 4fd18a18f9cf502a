using System.Diagnostics;
using System.Numerics;
using System.Text;

namespace StreamKit.Transport;

/// <summary>
/// A capped pool of pinned (POH) blocks in power-of-two size classes from 4 KiB to
/// <see cref="MaxBlockSize"/>. Steady-state rent/return allocates nothing: blocks are allocated
/// once, kept on a per-class stack and reused. <see cref="MaxBytes"/> bounds all memory the pool
/// holds (rented plus retained); when it is reached, retained blocks of other classes are dropped
/// to make room, and after that <see cref="RentAsync"/> (<see cref="RentBlocking"/>) waits for a return (back-pressure for a
/// receiver whose device writer lags) while <see cref="TryRent(int, out PooledBuffer?)"/> fails.
/// With <c>trackLeaks</c> every rent records its stack so <see cref="AssertNoLeaks"/> can say who
/// forgot to return (the role of Pipelines' TestMemoryPool); that costs an allocation per rent.
/// </summary>
internal sealed class PinnedBufferPool : IDisposable
{
    /// <summary>Smallest block (the first size class).</summary>
    public const int MinBlockSize = 4096;
    private const int MinShift = 12;

    private readonly object _gate = new();
    private readonly PooledBuffer[][] _retained;
    private readonly int[] _retainedCount;
    private readonly Dictionary<PooledBuffer, string>? _leakTracker;
    private long _heldBytes;
    private long _blockAllocationBytes;
    private long _rentedBytes;
    private long _peakRentedBytes;
    private int _rentedCount;
    private TaskCompletionSource? _returned;
    private bool _disposed;

    /// <summary>Creates a pool.</summary>
    /// <param name="maxBytes">Cap on bytes held (rented + retained).</param>
    /// <param name="maxBlockSize">Largest block, a power of two ≥ 4 KiB.</param>
    /// <param name="trackLeaks">Record the renter's stack for <see cref="AssertNoLeaks"/>.</param>
    public PinnedBufferPool(long maxBytes = 256L << 20, int maxBlockSize = 32 << 20, bool trackLeaks = false)
    {
        if (maxBlockSize < MinBlockSize || !BitOperations.IsPow2(maxBlockSize))
            throw new ArgumentOutOfRangeException(nameof(maxBlockSize), maxBlockSize, "must be a power of two ≥ 4096");
        if (maxBytes < maxBlockSize)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "must hold at least one largest block");
        MaxBytes = maxBytes;
        MaxBlockSize = maxBlockSize;
        int classes = BitOperations.Log2((uint)maxBlockSize) - MinShift + 1;
        _retained = new PooledBuffer[classes][];
        _retainedCount = new int[classes];
        for (int i = 0; i < classes; i++)
            _retained[i] = new PooledBuffer[(int)Math.Min(1024, maxBytes / ClassSize(i))];
        if (trackLeaks) _leakTracker = new Dictionary<PooledBuffer, string>(ReferenceEqualityComparer.Instance);
    }

    /// <summary>Cap on bytes held.</summary>
    public long MaxBytes { get; }

    /// <summary>Largest block this pool hands out.</summary>
    public int MaxBlockSize { get; }

    /// <summary>Bytes currently rented out.</summary>
    public long RentedBytes => Volatile.Read(ref _rentedBytes);

    /// <summary>Most bytes rented out at once.</summary>
    public long PeakRentedBytes => Volatile.Read(ref _peakRentedBytes);

    /// <summary>Blocks currently rented out.</summary>
    public int RentedCount => Volatile.Read(ref _rentedCount);

    /// <summary>
    /// Managed bytes the pool allocated for new blocks (arrays and their headers, as the GC counts them): what an
    /// allocation test leaves out, because growing to the working set happens once per pool, not per use.
    /// </summary>
    public long BlockAllocationBytes
    {
        get { lock (_gate) return _blockAllocationBytes; }
    }

    /// <summary>Bytes held (rented + retained for reuse).</summary>
    public long HeldBytes => Volatile.Read(ref _heldBytes);

    private static int ClassSize(int sizeClass) => MinBlockSize << sizeClass;

    private int ClassOf(int minimumLength)
    {
        if (minimumLength <= 0 || minimumLength > MaxBlockSize)
            throw new ArgumentOutOfRangeException(nameof(minimumLength), minimumLength, $"must be 1..{MaxBlockSize}");
        int rounded = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(minimumLength, MinBlockSize));
        return BitOperations.Log2((uint)rounded) - MinShift;
    }

    /// <summary>Rents a block of at least <paramref name="minimumLength"/> bytes, or returns false when the cap is reached.</summary>
    public bool TryRent(int minimumLength, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PooledBuffer? buffer) =>
        TryRent(minimumLength, long.MaxValue, out buffer);

    /// <summary>
    /// Rents a block only while the bytes rented out stay within <paramref name="rentedLimit"/> (below the
    /// cap): a user that may hold blocks for long leaves the rest of the cap to the others.
    /// </summary>
    public bool TryRent(int minimumLength, long rentedLimit, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PooledBuffer? buffer)
    {
        int sizeClass = ClassOf(minimumLength);
        int size = ClassSize(sizeClass);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_rentedBytes + size > rentedLimit)
            {
                buffer = null;
                return false;
            }
            if (_retainedCount[sizeClass] > 0)
            {
                buffer = _retained[sizeClass][--_retainedCount[sizeClass]];
                _retained[sizeClass][_retainedCount[sizeClass]] = null!;
            }
            else
            {
                if (_heldBytes + size > MaxBytes) TrimRetained(_heldBytes + size - MaxBytes);
                if (_heldBytes + size > MaxBytes)
                {
                    buffer = null;
                    return false;
                }
                _heldBytes += size;
                long before = GC.GetAllocatedBytesForCurrentThread();
                buffer = new PooledBuffer(this, sizeClass, size);
                _blockAllocationBytes += GC.GetAllocatedBytesForCurrentThread() - before;
            }
            _rentedBytes += size;
            if (_rentedBytes > _peakRentedBytes) _peakRentedBytes = _rentedBytes;
            _rentedCount++;
            buffer.OnRent();
            _leakTracker?.Add(buffer, new StackTrace(1, fNeedFileInfo: true).ToString());
            return true;
        }
    }

    /// <summary>Rents a block, throwing when the cap is reached.</summary>
    /// <exception cref="InvalidOperationException">The pool is at its cap.</exception>
    public PooledBuffer Rent(int minimumLength) =>
        TryRent(minimumLength, out var buffer) ? buffer
            : throw new InvalidOperationException($"buffer pool exhausted: {RentedBytes} of {MaxBytes} bytes rented ({RentedCount} blocks); a {minimumLength}-byte block does not fit");

    /// <summary>Rents a block, waiting for returns while the pool is at its cap.</summary>
    public ValueTask<PooledBuffer> RentAsync(int minimumLength, CancellationToken cancellationToken = default)
    {
        if (TryRent(minimumLength, out var buffer)) return new ValueTask<PooledBuffer>(buffer);
        return RentSlowAsync(minimumLength, cancellationToken);
    }

    private async ValueTask<PooledBuffer> RentSlowAsync(int minimumLength, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Re-checked after registering, so a return between the first try and the wait is not missed.
            var returned = NextReturn();
            if (TryRent(minimumLength, out var buffer)) return buffer;
            await returned.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Rents a block, blocking the calling thread while the pool is at its cap (<see cref="RentAsync"/> for a
    /// dedicated thread: a receive thread that must wait for the device writers anyway).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public PooledBuffer RentBlocking(int minimumLength, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryRent(minimumLength, out var buffer)) return buffer;
            var returned = NextReturn();
            if (TryRent(minimumLength, out buffer)) return buffer;
            returned.Wait(cancellationToken);
        }
    }

    /// <summary>Completes at the next return of any block.</summary>
    private Task NextReturn()
    {
        lock (_gate)
        {
            _returned ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _returned.Task;
        }
    }

    /// <summary>Returns a block rented from this pool (equivalent to its final <see cref="WindowSegment.Release"/>).</summary>
    public void Return(PooledBuffer buffer)
    {
        if (buffer.Owner != this) throw new ArgumentException("the buffer belongs to another pool", nameof(buffer));
        buffer.Release();
    }

    internal void ReturnCore(PooledBuffer buffer)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            int size = buffer.Length;
            _rentedBytes -= size;
            _rentedCount--;
            _leakTracker?.Remove(buffer);
            int sizeClass = buffer.SizeClass;
            if (!_disposed && _retainedCount[sizeClass] < _retained[sizeClass].Length)
                _retained[sizeClass][_retainedCount[sizeClass]++] = buffer;
            else
                _heldBytes -= size;
            wake = _returned;
            _returned = null;
        }
        wake?.TrySetResult();
    }

    private void TrimRetained(long needed)
    {
        // Drop retained blocks, largest classes first, until enough room is free; the GC reclaims them.
        for (int c = _retained.Length - 1; c >= 0 && needed > 0; c--)
        {
            while (_retainedCount[c] > 0 && needed > 0)
            {
                _retained[c][--_retainedCount[c]] = null!;
                _heldBytes -= ClassSize(c);
                needed -= ClassSize(c);
            }
        }
    }

    /// <summary>Throws if any block is still rented, listing the renters' stacks when tracking is on.</summary>
    /// <exception cref="InvalidOperationException">Blocks are outstanding.</exception>
    public void AssertNoLeaks()
    {
        lock (_gate)
        {
            if (_rentedCount == 0) return;
            var text = new StringBuilder($"{_rentedCount} pooled buffer(s) ({_rentedBytes} bytes) were not returned");
            if (_leakTracker is not null)
                foreach (var (buffer, stack) in _leakTracker)
                    text.Append($"\n--- {buffer.Length}-byte block (refs {buffer.References}) rented at:\n{stack}");
            throw new InvalidOperationException(text.ToString());
        }
    }

    /// <summary>Drops retained blocks; blocks still rented are dropped when they come back.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            TrimRetained(long.MaxValue);
        }
    }
}
