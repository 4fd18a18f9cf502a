namespace StreamKit.Transport.Rdma;

/// <summary>
/// Credit accounting of one RDMA channel, both directions (spec/rdma-transport.md §6). Pure
/// logic, not thread-safe: the channel calls it under its lock, tests drive it directly.
/// <para>
/// A credit is one receive buffer posted at the peer. Data and end messages consume a data
/// credit, credit-only messages a control credit; every message returns, in its immediate
/// data, the credits this side has re-posted since its last message. Data buffers are
/// re-posted when the application releases them; control buffers at once. So credit returns
/// never wait for the application, and a credit-only message always has a control credit
/// eventually: the peer, having been given data credits by it, returns the control credit on
/// its next message, and it only stops sending when it needs no more credits.
/// </para>
/// </summary>
internal sealed class CreditLedger
{
    private readonly int _localDataCredits;     // granted to the peer at connect
    private readonly int _localControlCredits;
    private readonly int _batch;

    // Our right to send.
    private int _dataCredits;
    private int _controlCredits;
    private long _dataSent, _controlSent;
    private long _dataReturnedToUs, _controlReturnedToUs;

    // The peer's right to send, as we granted it.
    private long _dataReceived, _controlReceived;
    private long _dataReported, _controlReported;
    private int _owedData, _owedControl;

    /// <param name="peerDataCredits">Data credits the peer granted us (its data_credits).</param>
    /// <param name="peerControlCredits">Control credits the peer granted us.</param>
    /// <param name="localDataCredits">Data credits we granted the peer.</param>
    /// <param name="localControlCredits">Control credits we granted the peer.</param>
    internal CreditLedger(int peerDataCredits, int peerControlCredits, int localDataCredits, int localControlCredits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(peerDataCredits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(peerControlCredits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(localDataCredits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(localControlCredits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(localDataCredits, ConnectionParameters.MaxDataCredits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(localControlCredits, ConnectionParameters.MaxControlCredits);
        _dataCredits = peerDataCredits;
        _controlCredits = peerControlCredits;
        _localDataCredits = localDataCredits;
        _localControlCredits = localControlCredits;
        _batch = Math.Max(1, localDataCredits / 4);
    }

    /// <summary>Data (or end) messages we may send now.</summary>
    internal int DataCredits => _dataCredits;

    /// <summary>Credit-only messages we may send now.</summary>
    internal int ControlCredits => _controlCredits;

    /// <summary>Data credits re-posted but not yet reported to the peer.</summary>
    internal int OwedData => _owedData;

    /// <summary>Control credits re-posted but not yet reported.</summary>
    internal int OwedControl => _owedControl;

    /// <summary>Data messages (including end) received from the peer so far.</summary>
    internal long DataReceived => _dataReceived;

    /// <summary>Upper bound of the data credits the peer holds (messages in flight make it lower).</summary>
    internal long PeerDataCreditsAtMost => _localDataCredits + _dataReported - _dataReceived;

    /// <summary>
    /// True when a credit-only message should go out: a batch (a quarter of the window) is
    /// owed, or the peer may be down to a batch or less and anything at all is owed — the
    /// second rule is what makes a stalled sender impossible while credits sit here.
    /// </summary>
    internal bool CreditUpdateDue => _owedData > 0 && (_owedData >= _batch || PeerDataCreditsAtMost <= _batch);

    /// <summary>Consumes a data credit for a data or end message.</summary>
    internal bool TryConsumeDataCredit()
    {
        if (_dataCredits == 0) return false;
        _dataCredits--;
        _dataSent++;
        return true;
    }

    /// <summary>Consumes a control credit for a credit-only message.</summary>
    internal bool TryConsumeControlCredit()
    {
        if (_controlCredits == 0) return false;
        _controlCredits--;
        _controlSent++;
        return true;
    }

    /// <summary>The immediate data for an outgoing message: everything owed (now reported) plus the kind.</summary>
    internal MessageWord TakeReturns(MessageKind kind)
    {
        var word = new MessageWord(kind, (ushort)_owedData, (byte)_owedControl);
        _dataReported += _owedData;
        _controlReported += _owedControl;
        _owedData = 0;
        _owedControl = 0;
        return word;
    }

    /// <summary>Applies the credits a received message returned.</summary>
    /// <exception cref="RdmaException">The peer returned more credits than we have used.</exception>
    internal void OnCreditsReturned(int data, int control)
    {
        if (_dataReturnedToUs + data > _dataSent || _controlReturnedToUs + control > _controlSent)
            throw new RdmaException(RdmaErrorKind.ProtocolViolation,
                $"peer returned credits data={data} control={control} beyond the messages sent " +
                $"(data {_dataReturnedToUs}/{_dataSent}, control {_controlReturnedToUs}/{_controlSent} returned/sent)");
        _dataReturnedToUs += data;
        _controlReturnedToUs += control;
        _dataCredits += data;
        _controlCredits += control;
    }

    /// <summary>A data or end message arrived.</summary>
    /// <exception cref="RdmaException">The peer sent without a data credit (it would have overrun our buffers).</exception>
    internal void OnDataReceived()
    {
        if (_dataReceived + 1 > _localDataCredits + _dataReported)
            throw new RdmaException(RdmaErrorKind.ProtocolViolation,
                $"peer sent data message {_dataReceived + 1} with only {_localDataCredits + _dataReported} data credits granted");
        _dataReceived++;
    }

    /// <summary>A credit-only message arrived; its buffer is re-posted at once, so its credit is owed back.</summary>
    /// <exception cref="RdmaException">The peer sent without a control credit.</exception>
    internal void OnControlReceived()
    {
        if (_controlReceived + 1 > _localControlCredits + _controlReported)
            throw new RdmaException(RdmaErrorKind.ProtocolViolation,
                $"peer sent credit message {_controlReceived + 1} with only {_localControlCredits + _controlReported} control credits granted");
        _controlReceived++;
        _owedControl++;
    }

    /// <summary>The application released a data buffer and it was re-posted.</summary>
    internal void OnDataBufferReposted()
    {
        if (_owedData >= ushort.MaxValue) throw new InvalidOperationException("more data buffers re-posted than were granted");
        _owedData++;
    }
}
