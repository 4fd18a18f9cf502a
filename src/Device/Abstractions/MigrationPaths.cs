namespace StreamKit.Device;

/// <summary>
/// The kernel's path rule for MIG_DEVICE_STATE (drivers/vfio/vfio_main.c,
/// <c>vfio_mig_get_next_state</c>): a next-step table plus skipping of states the device
/// does not support. The device itself walks the path; this lets us predict it, refuse
/// arcs that must never be requested, and test simulated devices against the kernel's rules.
/// </summary>
public static class MigrationPaths
{
    private const MigrationState S = MigrationState.Stop, R = MigrationState.Running, SC = MigrationState.StopCopy,
        RS = MigrationState.Resuming, RP = MigrationState.RunningP2P, PC = MigrationState.PreCopy,
        PP = MigrationState.PreCopyP2P, E = MigrationState.Error;

    // vfio_from_fsm_table[cur][target], indexed by the kernel's numeric state values.
    private static readonly MigrationState[,] NextStepTable =
    {
        //            target: ERROR STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P
        /* ERROR */        { E, E, E, E, E, E, E, E },
        /* STOP */         { E, S, RP, SC, RS, RP, RP, RP },
        /* RUNNING */      { E, RP, R, RP, RP, RP, PC, RP },
        /* STOP_COPY */    { E, S, S, SC, S, S, E, E },
        /* RESUMING */     { E, S, S, S, RS, S, S, S },
        /* RUNNING_P2P */  { E, S, R, S, S, RP, R, PP },
        /* PRE_COPY */     { E, R, R, PP, R, R, PC, PP },
        /* PRE_COPY_P2P */ { E, RP, RP, SC, RP, RP, PC, PP },
    };

    /// <summary>Features a state needs (<c>state_flags_table</c>); ERROR needs everything, so it is never supported.</summary>
    public static MigrationFeatures Required(MigrationState state) => state switch
    {
        MigrationState.Stop or MigrationState.Running or MigrationState.StopCopy or MigrationState.Resuming => MigrationFeatures.StopCopy,
        MigrationState.RunningP2P => MigrationFeatures.StopCopy | MigrationFeatures.P2P,
        MigrationState.PreCopy => MigrationFeatures.StopCopy | MigrationFeatures.PreCopy,
        MigrationState.PreCopyP2P => MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy,
        _ => (MigrationFeatures)ulong.MaxValue,
    };

    /// <summary>True when a device with <paramref name="features"/> has <paramref name="state"/>.</summary>
    public static bool IsSupported(MigrationState state, MigrationFeatures features) =>
        (uint)state < 8 && (Required(state) & ~features) == 0;

    /// <summary>
    /// True for the arcs StreamKit never requests: STOP_COPY → PRE_COPY(_P2P). The kernel forbids
    /// them, and on precopy-capable devices affected kernels spin forever in the skip loop
    /// (fixed upstream June 2026, "Fixes: 4db52602a607").
    /// </summary>
    public static bool IsForbidden(MigrationState from, MigrationState to) =>
        from == MigrationState.StopCopy && to is MigrationState.PreCopy or MigrationState.PreCopyP2P;

    /// <summary>
    /// The next single step from <paramref name="current"/> toward <paramref name="target"/>,
    /// skipping unsupported optional states as the kernel does; null where the kernel returns -EINVAL.
    /// </summary>
    public static MigrationState? NextStep(MigrationState current, MigrationState target, MigrationFeatures features)
    {
        if (!IsSupported(current, features) || !IsSupported(target, features)) return null;
        MigrationState next = NextStepTable[(int)current, (int)target];
        // Skip states the device lacks; stop at ERROR (the fixed kernel's behaviour, not the spinning one).
        while (next != MigrationState.Error && !IsSupported(next, features))
            next = NextStepTable[(int)next, (int)target];
        return next == MigrationState.Error ? null : next;
    }

    /// <summary>
    /// Every state the device passes through from <paramref name="current"/> to
    /// <paramref name="target"/> (excluding <paramref name="current"/>); empty when already there.
    /// </summary>
    /// <exception cref="DeviceException"><see cref="DeviceErrorKind.TransitionRefused"/> for ERROR, unsupported
    /// states (also when <paramref name="current"/> == <paramref name="target"/>) and forbidden arcs.</exception>
    public static IReadOnlyList<MigrationState> Path(MigrationState current, MigrationState target, MigrationFeatures features)
    {
        if (IsForbidden(current, target))
            throw new DeviceException(DeviceErrorKind.TransitionRefused,
                $"{current} → {target} is never requested: the kernel forbids it and older kernels lock up on it", state: current);
        // Checked even when current == target: ERROR is never settable and an unsupported state is never a
        // valid request (the kernel's drivers skip the table lookup when cur == new, so it would not say so).
        if (!IsSupported(current, features) || !IsSupported(target, features))
            throw new DeviceException(DeviceErrorKind.TransitionRefused,
                $"{current} → {target}: {(IsSupported(current, features) ? target : current)} is not a settable state for features {features}", state: current);
        var path = new List<MigrationState>(4);
        var at = current;
        while (at != target)
        {
            var next = NextStep(at, target, features)
                ?? throw new DeviceException(DeviceErrorKind.TransitionRefused,
                    $"no path {current} → {target} for features {features}", state: current);
            path.Add(next);
            at = next;
            if (path.Count > 8) throw new InvalidOperationException("migration path table has a cycle");
        }
        return path;
    }

    /// <summary>True when the arc <paramref name="from"/> → <paramref name="to"/> opens a new data session.</summary>
    public static bool OpensSession(MigrationState from, MigrationState to) => (from, to) switch
    {
        (MigrationState.Running, MigrationState.PreCopy) => true,
        (MigrationState.RunningP2P, MigrationState.PreCopyP2P) => true,
        (MigrationState.Stop, MigrationState.StopCopy) => true,
        (MigrationState.Stop, MigrationState.Resuming) => true,
        _ => false,
    };

    /// <summary>True for PRE_COPY, PRE_COPY_P2P and STOP_COPY: the states that share one saving session.</summary>
    public static bool IsSavingGroup(MigrationState state) =>
        state is MigrationState.PreCopy or MigrationState.PreCopyP2P or MigrationState.StopCopy;
}
