using System.Buffers;
using System.Diagnostics;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The receiver's return path (the reverse direction of channel 0), written by one loop from state
/// rather than from a queue (on a socket it owns a thread and sends blocking, else it is async): each
/// wake-up (a notification, or a tick for the time-based duties) it writes what is due — ACKs of devices whose written
/// position moved (at least every 100 ms or 16 MiB), a WINDOW when enough bytes were consumed, the
/// SWITCHOVER_ACK (preceded by an ACK of every pre-copy device's current epoch) each time its
/// condition becomes true, a PADDING keepalive when nothing else went out for a while — and sends it
/// in one write. The terminal FINAL_ACK or ERROR ends the loop. Nothing is allocated per message.
/// </summary>
internal sealed class ReturnPathSender
{
    private static readonly TimeSpan AckInterval = TimeSpan.FromMilliseconds(100);
    private const ulong AckBytes = 16 << 20;

    private readonly TransportConnection _connection;
    private readonly ReceiverSession _session;
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private readonly ReturnPathWriter _writer;
    private readonly LoopSignal _signal;
    private readonly TimeSpan _keepalive;
    private readonly TimeSpan _tick;
    private readonly long _windowStep;
    private readonly (uint Epoch, ulong Written, long At)[] _acked;
    private readonly object _gate = new();
    private long _reportedConsumed;
    private long _lastSend = Stopwatch.GetTimestamp();
    private bool _switchoverConditionWas;
    private FinalAckRecord? _final;
    private ReasonRecord? _error;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal ReturnPathSender(ReceiverSession session, TransportConnection connection, Preamble forward, uint maxPayload, ulong window, TimeSpan keepalive)
    {
        _session = session;
        _connection = connection;
        _keepalive = keepalive;
        _tick = TimeSpan.FromMilliseconds(50) < keepalive / 2 ? TimeSpan.FromMilliseconds(50) : keepalive / 2;
        _signal = new LoopSignal(onThread: connection.CanSendBlocking);
        _windowStep = Math.Max(1, (long)window / 16);
        _acked = new (uint, ulong, long)[session.Writers.Length];
        for (int i = 0; i < _acked.Length; i++) _acked[i] = (0, 0, 0);
        _writer = new ReturnPathWriter(_out, forward.StreamId, forward.Capabilities, maxPayload, WireLimits.DefaultMaxDevices, window);
    }

    /// <summary>Completes when the terminal chunk was sent (or sending became impossible).</summary>
    internal Task Done => _done.Task;

    /// <summary>Something changed (bytes written, consumed, a device state): re-evaluate what is due.</summary>
    internal void Notify() => _signal.Set();

    /// <summary>Consumed bytes moved by <paramref name="total"/>: wake the loop when a window step passed.</summary>
    internal void OnConsumed(long total)
    {
        if (total - Volatile.Read(ref _reportedConsumed) >= _windowStep) _signal.Set();
    }

    /// <summary>Ends the return path with FINAL_ACK after the last ACKs.</summary>
    internal void Finish(FinalAckRecord record)
    {
        lock (_gate) _final ??= record;
        _signal.Set();
    }

    /// <summary>Ends the return path with ERROR (the devices were reset already).</summary>
    internal void Fail(StreamErrorCode reason, string text)
    {
        lock (_gate)
        {
            if (_final is null) _error ??= ReasonRecord.Create(reason, text);
        }
        _signal.Set();
    }

    /// <summary>
    /// Sends the preamble, then whatever is due until the terminal chunk. Sends are not cancelled (ERROR must still get out); <paramref name="stop"/> ends the waits.
    /// On a TCP or Unix socket the loop runs on a thread of its own and sends blocking (<see cref="TransportConnection.TrySendBlocking"/>):
    /// an async send that has to wait registers channel 0 with the runtime's epoll thread for good, and each
    /// wake-up of an async loop is a thread-pool hop. The task completes when the loop has ended.
    /// </summary>
    internal Task RunAsync(CancellationToken stop) => !_signal.OnThread
        ? Run(async: true, stop)
        : DedicatedThread.Run("streamkit-return-send", () => Run(async: false, stop).GetAwaiter().GetResult());

    /// <summary>The loop; with <paramref name="async"/> false it waits and sends blocking and the task is complete on return.</summary>
    private async Task Run(bool async, CancellationToken stop)
    {
        // Time-based duties (ACK interval, keepalive) need a wake-up every tick: a timer for the async loop, the wait's timeout for the thread.
        using var ticker = async ? new Timer(static s => ((ReturnPathSender)s!).Notify(), this, _tick, _tick) : null;
        try
        {
            bool terminal = false; // the preamble is in the buffer already: the first pass sends it
            while (true)
            {
                if (_out.WrittenCount > 0)
                {
                    if (async) await _connection.SendAsync(_out.WrittenMemory).ConfigureAwait(false);
                    else _connection.TrySendBlocking(_out.WrittenSpan);
                    _out.ResetWrittenCount();
                    Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
                }
                if (terminal)
                {
                    await _connection.CompleteSendAsync().ConfigureAwait(false); // a socket's completes inline
                    return;
                }
                if (async) await _signal.WaitAsync(stop).ConfigureAwait(false);
                else _signal.Wait(_tick, stop);
                terminal = Compose();
            }
        }
        catch (Exception e) when (e is OperationCanceledException || _session.Failure.IsFailed)
        {
        }
        catch (Exception e)
        {
            _session.Failure.Set(e);
        }
        finally
        {
            _done.TrySetResult();
        }
    }

    /// <summary>Writes what is due into the buffer; true when it wrote the terminal chunk.</summary>
    private bool Compose()
    {
        FinalAckRecord? final;
        ReasonRecord? error;
        lock (_gate)
        {
            final = _final;
            error = _error;
        }
        if (error is { } e)
        {
            _writer.WriteError(e.Reason, e.Text);
            return true;
        }
        var writers = _session.Writers;
        long now = Stopwatch.GetTimestamp();
        bool switchover = !final.HasValue && _session.SwitchoverCondition();
        bool announce = switchover && !_switchoverConditionWas;
        _switchoverConditionWas = switchover;
        for (int i = 0; i < writers.Length; i++)
        {
            var w = writers[i];
            if (!w.Begun) continue;
            var (epoch, written) = w.AckPosition;
            var last = _acked[i];
            bool moved = epoch != last.Epoch || written != last.Written;
            bool due = final.HasValue
                || (announce && w.PrecopyDevice)
                || (moved && (epoch != last.Epoch || written - last.Written >= AckBytes || Stopwatch.GetElapsedTime(last.At, now) >= AckInterval || w.Committed));
            if (!due) continue;
            _writer.WriteAck(w.Id, epoch, written);
            _acked[i] = (epoch, written, now);
        }
        long consumed = _session.ConsumedBytes;
        if (consumed != _reportedConsumed)
        {
            _writer.WriteWindow((ulong)consumed);
            Volatile.Write(ref _reportedConsumed, consumed);
        }
        if (announce) _writer.WriteSwitchoverAck();
        if (final is { } f)
        {
            _writer.WriteFinalAck(f);
            return true;
        }
        if (_out.WrittenCount == 0 && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSend), now) >= _keepalive)
            _writer.WritePadding();
        return false;
    }
}
