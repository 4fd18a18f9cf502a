using StreamKit.Transport.Rdma;
using Xunit;

namespace StreamKit.Tests.Rdma;

public class AsyncSignalTests
{
    [Fact]
    public async Task ASetBeforeTheWaitIsNotLost()
    {
        var signal = new AsyncSignal();
        signal.Set();
        var wait = signal.WaitAsync(default);
        Assert.True(wait.IsCompletedSuccessfully);
        await wait;
        Assert.False(signal.WaitAsync(default).IsCompleted); // auto-reset: the set was used up
    }

    [Fact]
    public async Task WaitCompletesOnSetFromAnotherThread()
    {
        var signal = new AsyncSignal();
        var wait = signal.WaitAsync(default);
        Assert.False(wait.IsCompleted);
        var thread = new Thread(signal.Set);
        thread.Start();
        await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        thread.Join();
    }

    [Fact]
    public async Task CancellationEndsTheWaitAndTheSignalStaysUsable()
    {
        var signal = new AsyncSignal();
        using var cts = new CancellationTokenSource();
        var wait = signal.WaitAsync(cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.AsTask());
        var next = signal.WaitAsync(default);
        signal.Set();
        await next.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void OneWaiterAtATime()
    {
        var signal = new AsyncSignal();
        _ = signal.WaitAsync(default);
        Assert.Throws<InvalidOperationException>(() => signal.WaitAsync(default));
    }

    [Fact]
    public void AlreadyCancelledTokenThrowsAtOnce()
    {
        var signal = new AsyncSignal();
        Assert.Throws<OperationCanceledException>(() => signal.WaitAsync(new CancellationToken(true)));
    }
}
