using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// What a receiver does with a validated stream. <see cref="StreamValidator"/> calls these per device in
/// (epoch, sequence) order, after the chunk passed its CRC and every structural check (offsets
/// contiguous, epoch and phase rules). Data arrives before the device's digest is known: write it into
/// the RESUMING device as it comes, but commit the device (RESUMING → STOP) only after
/// <see cref="OnDeviceEnd"/>, which is called once the digest matched. Every method has an empty default.
/// </summary>
public interface IStreamEvents
{
    /// <summary>A device was announced (epoch 0 starts).</summary>
    void OnDeviceBegin(ushort device, DeviceBeginRecord record) { }

    /// <summary>Raw (decoded) data bytes at <paramref name="offset"/> of the device's current epoch. Valid only during the call.</summary>
    void OnData(ushort device, uint epoch, ulong offset, DataPhase phase, ReadOnlySequence<byte> raw) { }

    /// <summary><paramref name="length"/> zero data bytes at <paramref name="offset"/>.</summary>
    void OnZeroRun(ushort device, uint epoch, ulong offset, uint length, DataPhase phase) { }

    /// <summary>Raw config bytes at <paramref name="offset"/> of the device's config blob. Valid only during the call.</summary>
    void OnConfig(ushort device, uint epoch, ulong offset, ReadOnlySequence<byte> raw) { }

    /// <summary>The source's pre-copy hints at data offset <paramref name="offset"/>.</summary>
    void OnPrecopyInfo(ushort device, uint epoch, ulong offset, PrecopyInfoRecord info) { }

    /// <summary>Everything of earlier epochs is void: reset the destination device and resume again.</summary>
    void OnDiscard(ushort device, uint newEpoch, DiscardRecord record) { }

    /// <summary>The device's final epoch is complete and its digest matched: commit it.</summary>
    void OnDeviceEnd(ushort device, uint epoch, DeviceEndRecord record) { }

    /// <summary>Every channel ended with STREAM_END and every device with a verified DEVICE_END.</summary>
    void OnStreamEnd(StreamSummary summary) { }
}
