using StreamKit.Device;

namespace StreamKit.Transport;

/// <summary>
/// Where device pumps stop for the switchover. The coordinator asks every pump to pause at its next
/// chunk boundary (<see cref="RequestPause"/>); once all are parked it either lets them go back to
/// pre-copy (<see cref="ResumePrecopy"/>: a DISCARD invalidated the SWITCHOVER_ACK meanwhile) or, after
/// quiescing and stopping every device, hands each its stop-copy channel (<see cref="Release"/>).
/// Pumps block here (dedicated threads); the coordinator awaits.
/// </summary>
internal sealed class SwitchoverGate(int pumps)
{
    private readonly object _gate = new();
    private int _parked;
    private int _generation;
    private bool _pauseRequested;
    private bool _released;
    private bool _aborted;
    private IMigrationDataChannel?[] _plans = [];
    private TaskCompletionSource? _allParked;

    /// <summary>True while the coordinator wants pumps parked.</summary>
    internal bool PauseRequested => Volatile.Read(ref _pauseRequested);

    /// <summary>Asks every pump to park; the task completes when all are parked.</summary>
    internal Task RequestPause()
    {
        lock (_gate)
        {
            _allParked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _pauseRequested, true);
            if (_parked == pumps) _allParked.TrySetResult();
            return _allParked.Task;
        }
    }

    /// <summary>Sends parked pre-copy pumps back to pre-copy.</summary>
    internal void ResumePrecopy()
    {
        lock (_gate)
        {
            Volatile.Write(ref _pauseRequested, false);
            _generation++;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Every device is stopped: pump i continues with <paramref name="plans"/>[i] (null: its pre-copy channel goes on).</summary>
    internal void Release(IMigrationDataChannel?[] plans)
    {
        lock (_gate)
        {
            _plans = plans;
            _released = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Wakes everyone with a failure.</summary>
    internal void Abort()
    {
        lock (_gate)
        {
            _aborted = true;
            Monitor.PulseAll(_gate);
            _allParked?.TrySetCanceled();
        }
    }

    /// <summary>
    /// Parks pump <paramref name="index"/>. Returns true with its stop-copy channel (null: keep the
    /// pre-copy channel) once the devices are stopped; false when pre-copy resumes. With
    /// <paramref name="untilStopped"/> (a device without pre-copy) it waits through resumes.
    /// </summary>
    /// <exception cref="OperationCanceledException">The migration failed.</exception>
    internal bool Park(int index, bool untilStopped, out IMigrationDataChannel? channel)
    {
        lock (_gate)
        {
            int generation = _generation;
            _parked++;
            if (_parked == pumps && _pauseRequested) _allParked?.TrySetResult();
            try
            {
                while (!_aborted && !_released && (untilStopped || _generation == generation))
                    Monitor.Wait(_gate);
            }
            finally
            {
                _parked--;
            }
            if (_aborted) throw new OperationCanceledException("the migration failed");
            if (_released)
            {
                channel = _plans[index];
                return true;
            }
            channel = null;
            return false;
        }
    }
}
