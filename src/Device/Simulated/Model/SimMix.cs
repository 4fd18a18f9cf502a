namespace StreamKit.Device;

/// <summary>
/// Deterministic 64-bit mixing (SplitMix64 finaliser) used for everything the simulator derives
/// from a seed: content pools, zero-page choice, header checks, state digests, dirty-page picks.
/// Not cryptographic; good enough that a transport bug cannot produce a matching value by accident.
/// </summary>
internal static class SimMix
{
    internal const ulong Golden = 0x9E3779B97F4A7C15;

    /// <summary>SplitMix64's output function.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    /// <summary>Mix of several words, order-sensitive.</summary>
    internal static ulong Mix(ulong a, ulong b) => Mix(a ^ Mix(b + Golden));

    internal static ulong Mix(ulong a, ulong b, ulong c) => Mix(Mix(a, b), c);

    /// <summary>
    /// Digest of a device state: the content key (seed, profile, unit size, zero fraction) plus the
    /// version of every unit. Content is a pure function of (key, unit, version), so equal digests
    /// mean equal state bytes.
    /// </summary>
    internal static ulong Digest(ulong contentKey, ReadOnlySpan<uint> versions)
    {
        ulong h = Mix(contentKey, (ulong)versions.Length);
        int i = 0;
        for (; i + 1 < versions.Length; i += 2)
            h = Mix(h ^ (versions[i] | ((ulong)versions[i + 1] << 32))) + Golden;
        if (i < versions.Length) h = Mix(h ^ versions[i]) + Golden;
        return Mix(h);
    }

    /// <summary>A small deterministic generator (SplitMix64 stream).</summary>
    internal struct Rng(ulong seed)
    {
        private ulong _state = seed;

        internal ulong Next() => Mix(_state += Golden);

        /// <summary>Uniform in [0, bound) (bound ≥ 1); the modulo bias is irrelevant here.</summary>
        internal long Below(long bound) => (long)(Next() % (ulong)bound);
    }
}
