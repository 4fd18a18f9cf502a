namespace StreamKit.Device;

/// <summary>Consecutive units [First, First + Count) all at <see cref="Version"/>: one run record.</summary>
internal readonly record struct UnitRun(long First, int Count, uint Version);
