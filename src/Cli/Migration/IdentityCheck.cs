using StreamKit.Device;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// <c>--identity-check</c>: the receiver compares a DEVICE_BEGIN's name and driver with its destination
/// device, skipping whatever the device leaves empty. "driver" hands it the devices without their
/// names (a real device's name is an mdev uuid or PCI address, which differs between hosts).
/// </summary>
internal static class IdentityCheck
{
    /// <summary>Whether the receiver checks at all.</summary>
    internal static bool Enabled(string mode) => mode != "none";

    /// <summary>The device the receiver sees for <paramref name="mode"/>.</summary>
    internal static IMigrationDevice ForReceiver(IMigrationDevice device, string mode) => mode == "driver" ? new Unnamed(device) : device;

    /// <summary>The device with an empty name: the receiver's identity check then compares only the driver.</summary>
    private sealed class Unnamed(IMigrationDevice inner) : IMigrationDevice
    {
        public string Name => "";
        public string DriverHint => inner.DriverHint;
        public MigrationFeatures Features => inner.Features;
        public MigrationState GetState() => inner.GetState();
        public IMigrationDataChannel? SetState(MigrationState target) => inner.SetState(target);
        public ulong? GetStopCopySizeEstimate() => inner.GetStopCopySizeEstimate();
        public void Reset() => inner.Reset();
        public void Dispose() { } // the command closes the real device
    }
}
