namespace StreamKit.Wire;

/// <summary>
/// The per-device numbering shared by every channel writer of one stream: epochs, sequences, offsets
/// and running CRCs. Channel writers take <see cref="Gate"/> while they assign numbers and encode the
/// header, so each channel carries a device's chunks in increasing (epoch, sequence) order.
/// </summary>
internal sealed class DeviceSequencer(ChunkWriterOptions options)
{
    private readonly Dictionary<ushort, DeviceSendState> _devices = [];

    internal object Gate { get; } = new();
    internal ChunkWriterOptions Options { get; } = options;
    /// <summary>Once a channel has written STREAM_END no device may begin (device_count is final).</summary>
    internal bool DeviceSetClosed { get; set; }
    internal int DeviceCount => _devices.Count;

    /// <summary>Caller holds <see cref="Gate"/>.</summary>
    internal DeviceSendState Begin(ushort device)
    {
        if (device == 0) throw new ArgumentOutOfRangeException(nameof(device), "device ids start at 1; 0 means stream-scoped");
        if (DeviceSetClosed) throw new InvalidOperationException($"device {device} cannot begin: a channel already ended the stream");
        if (_devices.ContainsKey(device)) throw new InvalidOperationException($"device {device} has already begun");
        if ((uint)_devices.Count >= Options.MaxDevices) throw new InvalidOperationException($"the stream announced at most {Options.MaxDevices} devices");
        var state = new DeviceSendState(device);
        _devices.Add(device, state);
        return state;
    }

    /// <summary>Caller holds <see cref="Gate"/>. A begun device that has not ended.</summary>
    internal DeviceSendState Open(ushort device)
    {
        if (!_devices.TryGetValue(device, out var state)) throw new InvalidOperationException($"device {device} has not begun");
        if (state.Ended) throw new InvalidOperationException($"device {device} has already ended");
        return state;
    }

    /// <summary>Caller holds <see cref="Gate"/>. Devices that have not written DEVICE_END.</summary>
    internal IEnumerable<ushort> OpenDevices()
    {
        foreach (var state in _devices.Values)
            if (!state.Ended) yield return state.Device;
    }
}
