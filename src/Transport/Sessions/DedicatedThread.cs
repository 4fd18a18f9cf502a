namespace StreamKit.Transport;

/// <summary>
/// Runs blocking device work (read/write/SetState, which block in the kernel or in a VMM) on its own
/// thread, never on the thread pool: on a 2-core machine a few parked pool threads stall every
/// socket continuation. The returned task completes when the body returns or throws.
/// </summary>
internal static class DedicatedThread
{
    internal static Task Run(string name, Action body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                body();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    internal static Task<T> Run<T>(string name, Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.TrySetResult(body());
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }
}
