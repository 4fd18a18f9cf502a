using System.Diagnostics;

namespace StreamKit.Device;

/// <summary>
/// Turns <see cref="SimulatedFaults"/> into per-session trigger points and counts firings, so each
/// fault hits at most <see cref="SimulatedFaults.Repeat"/> sessions. Called under the device lock.
/// </summary>
internal sealed class FaultInjector(SimulatedFaults faults)
{
    private int _resets;
    private int _readErrors;
    private int _writeErrors;
    private int _commitErrors;

    internal SimulatedFaults Faults => faults;

    /// <summary>Trigger points of one saving session (long.MaxValue = never).</summary>
    internal sealed class SavePlan
    {
        internal long ResetAtByte = long.MaxValue;
        internal long ResetAtTimestamp = long.MaxValue;
        internal long ReadErrorAtByte = long.MaxValue;
        internal bool ReadErrorCounted;
    }

    internal SavePlan PlanSave(long expectedBytes)
    {
        var plan = new SavePlan();
        if (_resets < faults.Repeat)
        {
            if (faults.ResetAt is { } at) plan.ResetAtByte = at.Resolve(expectedBytes);
            if (faults.ResetAfter is { } after) plan.ResetAtTimestamp = Stopwatch.GetTimestamp() + (long)(after.TotalSeconds * Stopwatch.Frequency);
        }
        if (_readErrors < faults.Repeat && faults.ReadErrorAt is { } re) plan.ReadErrorAtByte = re.Resolve(expectedBytes);
        return plan;
    }

    /// <summary>Byte offset at which the session's first write error fires, or long.MaxValue.</summary>
    internal long PlanWriteError(long expectedBytes) =>
        faults.WriteErrno != 0 && _writeErrors < faults.Repeat ? faults.WriteErrorAt.Resolve(expectedBytes) : long.MaxValue;

    internal void ResetFired() => _resets++;

    internal void ReadErrorFired(SavePlan plan)
    {
        if (plan.ReadErrorCounted) return;
        plan.ReadErrorCounted = true;
        _readErrors++;
    }

    internal void WriteErrorFired() => _writeErrors++;

    private int _setErrors;

    /// <summary>errno to fail the arc into <paramref name="to"/> with, or 0.</summary>
    internal int TakeSetError(MigrationState to)
    {
        if (faults.SetErrorState != to || _setErrors >= faults.Repeat) return 0;
        _setErrors++;
        return faults.SetErrno;
    }

    /// <summary>errno to fail this commit with, or 0.</summary>
    internal int TakeCommitError()
    {
        if (faults.CommitErrno == 0 || _commitErrors >= faults.Repeat) return 0;
        _commitErrors++;
        return faults.CommitErrno;
    }
}
