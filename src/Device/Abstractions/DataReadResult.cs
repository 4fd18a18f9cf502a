namespace StreamKit.Device;

/// <summary>What one read of a migration data channel produced.</summary>
public enum DataReadStatus
{
    /// <summary><see cref="DataReadResult.Count"/> bytes of state were read.</summary>
    Data,
    /// <summary>Nothing now, more may come later (PRE_COPY: a 0-byte read, ENOMSG, or EAGAIN).</summary>
    TemporaryEnd,
    /// <summary>The saving session delivered all its state (0-byte read in STOP_COPY).</summary>
    FinalEnd,
    /// <summary>The session is gone (ENODEV): the device was reset or left the saving group.</summary>
    DeadSession,
}

/// <summary>Status and byte count of one data-channel read.</summary>
public readonly record struct DataReadResult(DataReadStatus Status, int Count)
{
    /// <summary>A read of <paramref name="count"/> bytes.</summary>
    public static DataReadResult Bytes(int count) => new(DataReadStatus.Data, count);
    /// <summary>Temporary end of pre-copy data.</summary>
    public static readonly DataReadResult Temporary = new(DataReadStatus.TemporaryEnd, 0);
    /// <summary>Final end of the saving session.</summary>
    public static readonly DataReadResult Final = new(DataReadStatus.FinalEnd, 0);
    /// <summary>The session died (reset).</summary>
    public static readonly DataReadResult Dead = new(DataReadStatus.DeadSession, 0);
}
