using System.Buffers;
using StreamKit.Wire;

namespace StreamKit.Tests.Format.Support;

/// <summary>
/// A receiver stand-in: rebuilds each device's final-epoch data and config from the validator's
/// events, asserting they arrive contiguously, and records the event order.
/// </summary>
internal sealed class DeviceImages : IStreamEvents
{
    public Dictionary<ushort, List<byte>> Data { get; } = [];
    public Dictionary<ushort, List<byte>> Config { get; } = [];
    public Dictionary<ushort, DeviceEndRecord> Ends { get; } = [];
    public Dictionary<ushort, DeviceBeginRecord> Begins { get; } = [];
    public List<string> Log { get; } = [];
    public bool StreamEnded { get; private set; }

    public void OnDeviceBegin(ushort device, DeviceBeginRecord record)
    {
        Begins.Add(device, record);
        Data[device] = [];
        Config[device] = [];
        Log.Add($"begin {device}");
    }

    public void OnData(ushort device, uint epoch, ulong offset, DataPhase phase, ReadOnlySequence<byte> raw)
    {
        Expect(Data[device].Count == (int)offset, $"data of {device} at {offset}, have {Data[device].Count}");
        Data[device].AddRange(raw.ToArray());
        Log.Add($"data {device} e{epoch} @{offset} {raw.Length} {phase}");
    }

    public void OnZeroRun(ushort device, uint epoch, ulong offset, uint length, DataPhase phase)
    {
        Expect(Data[device].Count == (int)offset, $"zero run of {device} at {offset}, have {Data[device].Count}");
        Data[device].AddRange(new byte[length]);
        Log.Add($"zero {device} e{epoch} @{offset} {length} {phase}");
    }

    public void OnConfig(ushort device, uint epoch, ulong offset, ReadOnlySequence<byte> raw)
    {
        Expect(Config[device].Count == (int)offset, $"config of {device} at {offset}");
        Config[device].AddRange(raw.ToArray());
        Log.Add($"config {device} e{epoch} @{offset} {raw.Length}");
    }

    public void OnDiscard(ushort device, uint newEpoch, DiscardRecord record)
    {
        Data[device].Clear();
        Config[device].Clear();
        Log.Add($"discard {device} e{newEpoch}");
    }

    public void OnDeviceEnd(ushort device, uint epoch, DeviceEndRecord record)
    {
        Ends.Add(device, record);
        Log.Add($"end {device} e{epoch}");
    }

    public void OnStreamEnd(StreamSummary summary) => StreamEnded = true;

    private static void Expect(bool condition, string message)
    {
        if (!condition) throw new InvalidOperationException("receiver saw a non-contiguous stream: " + message);
    }
}
