namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// Counts the bytes the current thread allocates while the code under test runs
/// (<see cref="GC.GetAllocatedBytesForCurrentThread"/>), excluding the harness's own work between
/// <see cref="Pause"/> and <see cref="Resume"/>, and fails when they pass a bound derived from the
/// configured limits. Bounds are generous constants plus limit terms: they catch allocations sized by
/// an unchecked length field (megabytes to gigabytes), not a few stray objects.
/// </summary>
internal sealed class AllocationMeter
{
    /// <summary>Off while a runner warms up (type initializers allocate once per process).</summary>
    [ThreadStatic] private static bool t_suspended;

    private long _counted;
    private long _since;
    private bool _running;

    internal static bool Suspended { get => t_suspended; set => t_suspended = value; }

    internal static AllocationMeter Start()
    {
        var meter = new AllocationMeter();
        meter.Resume();
        return meter;
    }

    internal void Resume()
    {
        if (_running) return;
        _running = true;
        _since = GC.GetAllocatedBytesForCurrentThread();
    }

    internal void Pause()
    {
        if (!_running) return;
        _counted += GC.GetAllocatedBytesForCurrentThread() - _since;
        _running = false;
    }

    internal long Counted => _running ? _counted + GC.GetAllocatedBytesForCurrentThread() - _since : _counted;

    /// <summary>Stops counting and throws if more than <paramref name="bound"/> bytes were allocated.</summary>
    internal void Check(string target, long bound, string what)
    {
        Pause();
        if (!t_suspended && _counted > bound)
            throw new FuzzInvariantException(target, $"{what} allocated {_counted} bytes; the bound derived from the limits is {bound}");
    }
}
