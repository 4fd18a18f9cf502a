using StreamKit.Transport;
using Xunit;

namespace StreamKit.Tests.Transport;

public class PinnedBufferPoolTests
{
    [Fact]
    public void BlocksArePinnedPowerOfTwoAndReused()
    {
        using var pool = new PinnedBufferPool(8 << 20, 1 << 20, trackLeaks: true);
        var a = pool.Rent(5000);
        Assert.Equal(8192, a.Length);
        Assert.True(GC.GetGeneration(a.Array) == int.MaxValue || GC.GetGeneration(a.Array) >= 0); // allocated
        unsafe { Assert.True(a.Pointer == (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref a.Array[0])); }
        var small = pool.Rent(1);
        Assert.Equal(PinnedBufferPool.MinBlockSize, small.Length);
        pool.Return(a);
        pool.Return(small);
        var again = pool.Rent(8000);
        Assert.Same(a, again);
        pool.Return(again);
        Assert.Equal(0, pool.RentedCount);
        Assert.Equal(8192 + 4096, pool.HeldBytes);
        pool.AssertNoLeaks();
    }

    [Fact]
    public void ARentLimitLeavesTheRestOfTheCapToOthers()
    {
        using var pool = new PinnedBufferPool(4 << 20, 1 << 20);
        var window = pool.Rent(1 << 20);
        Assert.True(pool.TryRent(1 << 20, 2 << 20, out var copy));      // 2 MiB rented: at the limit
        Assert.False(pool.TryRent(4096, 2 << 20, out _));              // the limited user gets no more...
        var reserve = pool.Rent(1 << 20);                              // ...while the rest of the cap is still there
        Assert.Equal(3 << 20, pool.PeakRentedBytes);
        pool.Return(copy!);
        Assert.True(pool.TryRent(1 << 20, 3 << 20, out var again));   // the returned block counts as free again
        Assert.Equal(3 << 20, pool.PeakRentedBytes);
        foreach (var block in new[] { window, again!, reserve }) pool.Return(block);
        Assert.Equal(0, pool.RentedBytes);
    }

    [Fact]
    public void LeakCheckNamesTheRenter()
    {
        using var pool = new PinnedBufferPool(8 << 20, 1 << 20, trackLeaks: true);
        var kept = RentAndForget(pool);
        var e = Assert.Throws<InvalidOperationException>(pool.AssertNoLeaks);
        Assert.Contains("1 pooled buffer(s)", e.Message);
        Assert.Contains(nameof(RentAndForget), e.Message);
        pool.Return(kept);
        pool.AssertNoLeaks();
    }

    private static PooledBuffer RentAndForget(PinnedBufferPool pool) => pool.Rent(100);

    [Fact]
    public void DoubleReturnIsDetected()
    {
        using var pool = new PinnedBufferPool(8 << 20, 1 << 20);
        var block = pool.Rent(100);
        pool.Return(block);
        Assert.Throws<InvalidOperationException>(() => pool.Return(block));
    }

    [Fact]
    public void CapIsEnforcedByDroppingRetainedBlocksThenRefusing()
    {
        using var pool = new PinnedBufferPool(maxBytes: 1 << 20, maxBlockSize: 512 << 10);
        var small = Enumerable.Range(0, 64).Select(_ => pool.Rent(8192)).ToList(); // 512 KiB in 8 KiB blocks
        foreach (var b in small) pool.Return(b);
        Assert.Equal(512 << 10, pool.HeldBytes);
        // Two 512 KiB blocks need the retained small ones dropped.
        var big1 = pool.Rent(512 << 10);
        var big2 = pool.Rent(512 << 10);
        Assert.Equal(1 << 20, pool.HeldBytes);
        Assert.False(pool.TryRent(4096, out _));
        Assert.Throws<InvalidOperationException>(() => pool.Rent(4096));
        pool.Return(big1);
        pool.Return(big2);
        Assert.True(pool.TryRent(4096, out var ok));
        pool.Return(ok!);
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task RentAsyncWaitsForAReturn()
    {
        using var pool = new PinnedBufferPool(maxBytes: 1 << 20, maxBlockSize: 1 << 20);
        var only = pool.Rent(1 << 20);
        var waiting = pool.RentAsync(1 << 20).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        pool.Return(only);
        var got = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Same(only, got);
        pool.Return(got);

        var blocker = pool.Rent(1 << 20);
        using var cancel = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pool.RentAsync(4096, cancel.Token));
        pool.Return(blocker);
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task RentBlockingWaitsForAReturnOnTheCallingThread()
    {
        using var pool = new PinnedBufferPool(maxBytes: 1 << 20, maxBlockSize: 1 << 20);
        var only = pool.Rent(1 << 20);
        var waiting = new TaskCompletionSource<PooledBuffer>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() => waiting.SetResult(pool.RentBlocking(1 << 20))) { IsBackground = true }.Start();
        await Task.Delay(50);
        Assert.False(waiting.Task.IsCompleted);
        pool.Return(only);
        var got = await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Same(only, got);

        using var cancel = new CancellationTokenSource(50);
        Assert.ThrowsAny<OperationCanceledException>(() => pool.RentBlocking(4096, cancel.Token));
        pool.Return(got);
        pool.AssertNoLeaks();
    }

    [Fact]
    public void SizesOutsideThePoolAreRefused()
    {
        using var pool = new PinnedBufferPool(8 << 20, 1 << 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent((1 << 20) + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedBufferPool(8 << 20, 3000));
    }

    [Fact]
    public void SteadyStateRentReturnDoesNotAllocate()
    {
        using var pool = new PinnedBufferPool(8 << 20, 1 << 20);
        pool.Return(pool.Rent(1 << 20));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) pool.Return(pool.Rent(1 << 20));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
