namespace StreamKit.Device;

/// <summary>
/// A simulated device's state and its driver's stream format. The state is one version number per
/// unit (page, port); unit bytes are <see cref="ContentGenerator"/>(seed, unit, version), so the
/// state is never held in memory and its digest is cheap. Called only under the device lock.
/// </summary>
internal abstract class DeviceModel
{
    protected DeviceModel(SimulatedDeviceSpec spec, ulong profileSalt, int unitSize, int unitCount)
    {
        Spec = spec;
        Content = new ContentGenerator(spec.Seed, profileSalt, unitSize,
            spec.Profile == SimulatedProfile.Mtty ? 0 : spec.ZeroFraction, spec.ZeroRunPages);
        Versions = new uint[unitCount];
        if (spec.StateGeneration != 0)
        {
            // Seeded initial state: versions vary per group of 16 units (runs stay long) and generation g
            // owns versions [1 + (g-1)·1024, g·1024], so different generations never share a state.
            ulong baseVersion = 1 + (ulong)(spec.StateGeneration - 1) * 1024 % (uint.MaxValue - 2048);
            for (int i = 0; i < unitCount; i++)
                Versions[i] = (uint)(baseVersion + SimMix.Mix(spec.Seed, (ulong)(i / 16)) % 1024);
        }
    }

    internal SimulatedDeviceSpec Spec { get; }

    internal ContentGenerator Content { get; }

    /// <summary>The device state: version of every unit (0 = blank).</summary>
    internal uint[] Versions { get; }

    internal int UnitCount => Versions.Length;

    /// <summary>The open saving session, told about every change of state.</summary>
    internal SaveStream? ActiveSave { get; set; }

    internal abstract string DriverHint { get; }

    internal abstract MigrationFeatures NativeFeatures { get; }

    /// <summary>Bytes of a complete STOP_COPY stream taken from STOP.</summary>
    internal abstract long FullImageBytes { get; }

    internal ulong Digest() => SimMix.Digest(Content.Key, Versions);

    /// <summary>The guest changed a unit.</summary>
    internal void Touch(long unit)
    {
        Versions[unit]++;
        ActiveSave?.OnUnitDirtied(unit);
    }

    /// <summary>MIG_DATA_SIZE.</summary>
    internal virtual long StopCopyEstimate() => ActiveSave?.RemainingEstimate() ?? FullImageBytes;

    /// <summary>A new saving session: PRE_COPY (<paramref name="precopy"/>) or straight STOP_COPY.</summary>
    internal abstract SaveStream OpenSave(bool precopy);

    /// <summary>A new resuming session, starting from scratch.</summary>
    internal abstract LoadStream OpenLoad();

    /// <summary>A good commit: the rebuilt state becomes the device state.</summary>
    internal void Adopt(LoadStream load) => load.StagedVersions.CopyTo(Versions, 0);
}
