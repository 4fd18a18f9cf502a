namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>What one child measured about itself over one (timed or warm-up) transfer; printed as JSON on its DONE line.</summary>
internal sealed record ChildReport
{
    public string Role { get; init; } = "";
    public bool Timed { get; init; }

    /// <summary>Device state-stream bytes read (sender) or written (receiver).</summary>
    public long DeviceBytes { get; init; }

    /// <summary>Bytes put on / taken off the wire (StreamKit: chunk headers included; raw: = device bytes).</summary>
    public long WireBytes { get; init; }

    /// <summary>Chunks (StreamKit: device chunks incl. ZERO_RUN and control; raw/naive: device reads or writes).</summary>
    public long Chunks { get; init; }

    public long ZeroBytes { get; init; }
    public string Digest { get; init; } = "";

    /// <summary>Wall seconds inside the child, from GO (sender) or READY (receiver) to the end of its work.</summary>
    public double Seconds { get; init; }

    public double UserSeconds { get; init; }
    public double SystemSeconds { get; init; }

    /// <summary>Managed bytes allocated by the whole process during the transfer.</summary>
    public long Allocated { get; init; }

    /// <summary>Managed bytes allocated per chunk-size of device data between 25 % and 75 % of the stream (steady state), if measured.</summary>
    public double? SteadyAllocatedPerChunk { get; init; }

    /// <summary>Context switches of the process's threads during the transfer (threads alive at both ends).</summary>
    public long ContextSwitches { get; init; }

    /// <summary>Wall seconds the JIT spent compiling during the transfer (tiering to optimized code), and methods compiled.</summary>
    public double JitSeconds { get; init; }

    public long JitMethods { get; init; }

    public int Gen0 { get; init; }
    public int Gen1 { get; init; }
    public int Gen2 { get; init; }

    /// <summary>RSS when the transfer started (after warm-up and a full GC), KiB.</summary>
    public long RssStartKiB { get; init; }

    /// <summary>Peak RSS (VmHWM, reset at the start of the timed transfer), KiB.</summary>
    public long PeakRssKiB { get; init; }

    /// <summary>Process CPU seconds before the transfer (startup, JIT, warm-up): lets the lz4|socat side subtract its .NET start.</summary>
    public double CpuBeforeSeconds { get; init; }

    /// <summary>Process CPU seconds at the end.</summary>
    public double CpuAtEndSeconds { get; init; }

    public string? Note { get; init; }
}
