using System.Diagnostics.Tracing;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>
/// Diagnostics only (STREAMKIT_E2E_ALLOCS=1): listens to the runtime's GCAllocationTick events (one per
/// ~100 KB allocated, with the type that crossed the threshold) and prints the top types to stderr,
/// to find what a steady state that should allocate nothing still allocates.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly Dictionary<string, long> _bytes = [];
    private volatile bool _on;

    public static AllocationSampler? StartIfRequested() =>
        Environment.GetEnvironmentVariable("STREAMKIT_E2E_ALLOCS") == "1" ? new AllocationSampler() : null;

    public void Begin() => _on = true;

    public void End() => _on = false;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick at verbose
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_on || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        int typeIndex = e.PayloadNames!.IndexOf("TypeName");
        int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        string type = typeIndex >= 0 ? e.Payload[typeIndex] as string ?? "?" : "?";
        long amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        lock (_bytes) _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
    }

    public void Report(string role)
    {
        _on = false;
        lock (_bytes)
            foreach (var (type, bytes) in _bytes.OrderByDescending(kv => kv.Value).Take(15))
                Console.Error.WriteLine($"alloc[{role}] {bytes,12:N0} B  {type}");
    }
}
