using StreamKit.Device;
using Xunit;
using static StreamKit.Device.MigrationState;

namespace StreamKit.Tests.Device;

/// <summary>
/// <see cref="MigrationPaths"/> against an independent search over the UAPI's directly defined arcs
/// (reference 1.2), with the kernel's combination rules: only supported states; shortest path; a
/// saving-group state (PRE_COPY, PRE_COPY_P2P, STOP_COPY) never interior unless the path started in
/// the saving group and has not left it (so at most the last arc opens a session and a session is
/// never closed and reopened; the kernel's own PRE_COPY → PRE_COPY_P2P → STOP_COPY is such a path);
/// STOP_COPY → PRE_COPY(_P2P) forbidden.
/// </summary>
public class MigrationPathsTests
{
    private const MigrationFeatures SC = MigrationFeatures.StopCopy, P2P = MigrationFeatures.P2P, PRE = MigrationFeatures.PreCopy;

    public static readonly MigrationFeatures[] FeatureSets = [SC, SC | P2P, SC | PRE, SC | P2P | PRE];

    private static readonly MigrationState[] AllStates = [Error, Stop, Running, StopCopy, Resuming, RunningP2P, PreCopy, PreCopyP2P];

    // Reference 1.2, directly defined arcs.
    private static readonly (MigrationState From, MigrationState To)[] AlwaysArcs =
    [
        (RunningP2P, Stop), (StopCopy, Stop), (Resuming, Stop),
        (PreCopy, Running), (RunningP2P, Running),
        (PreCopyP2P, RunningP2P), (Running, RunningP2P), (Stop, RunningP2P),
        (Running, PreCopy), (RunningP2P, PreCopyP2P), (Stop, StopCopy),
        (PreCopy, PreCopyP2P), (PreCopyP2P, PreCopy), (PreCopyP2P, StopCopy),
        (Stop, Resuming),
    ];

    private static readonly (MigrationState From, MigrationState To)[] WithoutP2PArcs =
        [(Running, Stop), (Stop, Running), (PreCopy, StopCopy)];

    private static bool Supported(MigrationState s, MigrationFeatures f) => s switch
    {
        Stop or Running or StopCopy or Resuming => (f & SC) != 0,
        RunningP2P => (f & (SC | P2P)) == (SC | P2P),
        PreCopy => (f & (SC | PRE)) == (SC | PRE),
        PreCopyP2P => (f & (SC | P2P | PRE)) == (SC | P2P | PRE),
        _ => false,
    };

    private static bool InSavingGroup(MigrationState s) => s is PreCopy or PreCopyP2P or StopCopy;

    private static HashSet<(MigrationState, MigrationState)> Arcs(MigrationFeatures f)
    {
        var arcs = AlwaysArcs.AsEnumerable();
        if ((f & P2P) == 0) arcs = arcs.Concat(WithoutP2PArcs);
        return arcs.Where(a => Supported(a.From, f) && Supported(a.To, f)).ToHashSet();
    }

    /// <summary>Every shortest valid path (each listed without its start), by breadth-first enumeration of simple paths.</summary>
    private static List<List<MigrationState>> ShortestPaths(MigrationState from, MigrationState to, MigrationFeatures f)
    {
        var arcs = Arcs(f);
        var frontier = new List<List<MigrationState>> { new() { from } };
        for (int length = 1; length <= AllStates.Length; length++)
        {
            var next = new List<List<MigrationState>>();
            var found = new List<List<MigrationState>>();
            foreach (var path in frontier)
            {
                MigrationState at = path[^1];
                foreach (var (a, b) in arcs)
                {
                    if (a != at || path.Contains(b)) continue;
                    var extended = new List<MigrationState>(path) { b };
                    if (b == to) found.Add(extended);
                    // b would be interior: allowed in the saving group only while the whole path so far is in it.
                    else if (!InSavingGroup(b) || path.All(InSavingGroup)) next.Add(extended);
                }
            }
            if (found.Count > 0) return found.Select(p => p.Skip(1).ToList()).ToList();
            frontier = next;
        }
        return [];
    }

    public static IEnumerable<object[]> AllCases() =>
        from f in FeatureSets from cur in AllStates from target in AllStates select new object[] { cur, target, f };

    [Theory]
    [MemberData(nameof(AllCases))]
    public void PathIsAShortestValidPath(MigrationState current, MigrationState target, MigrationFeatures features)
    {
        bool refused = !Supported(current, features) || !Supported(target, features)
            || (current == StopCopy && target is PreCopy or PreCopyP2P);
        if (refused)
        {
            var e = Assert.Throws<DeviceException>(() => MigrationPaths.Path(current, target, features));
            Assert.Equal(DeviceErrorKind.TransitionRefused, e.Kind);
            Assert.Equal(current, e.State);
            return;
        }
        var path = MigrationPaths.Path(current, target, features);
        if (current == target)
        {
            Assert.Empty(path);
            return;
        }
        var shortest = ShortestPaths(current, target, features);
        Assert.NotEmpty(shortest); // every supported, non-forbidden pair is reachable
        Assert.Contains(shortest, p => p.SequenceEqual(path));

        // Each step is a defined arc; only the last may open a session; the next-step function agrees.
        var arcs = Arcs(features);
        var at = current;
        for (int i = 0; i < path.Count; i++)
        {
            Assert.Contains((at, path[i]), arcs);
            if (i < path.Count - 1) Assert.False(MigrationPaths.OpensSession(at, path[i]), $"{at} → {path[i]} opens a session mid-path");
            Assert.Equal(path[i], MigrationPaths.NextStep(at, target, features));
            at = path[i];
        }
    }

    [Fact]
    public void SearchCoversEveryCaseAndFindsAmbiguities()
    {
        // Guards the test itself: the searched table must contain pairs with several shortest paths
        // (where the kernel's table picks one) and must not be trivially empty.
        int ambiguous = 0, pairs = 0;
        foreach (var f in FeatureSets)
            foreach (var a in AllStates)
                foreach (var b in AllStates)
                {
                    if (a == b || !Supported(a, f) || !Supported(b, f) || (a == StopCopy && b is PreCopy or PreCopyP2P)) continue;
                    pairs++;
                    if (ShortestPaths(a, b, f).Count > 1) ambiguous++;
                }
        Assert.Equal(4 * 3 + 5 * 4 + (5 * 4 - 1) + (7 * 6 - 2), pairs); // SC→PC(_P2P) excluded where PRE_COPY exists
        Assert.True(ambiguous > 0);
    }

    // Reference 1.4: effective paths, all features.
    [Theory]
    [InlineData(Running, Stop, new[] { RunningP2P, Stop })]
    [InlineData(Running, StopCopy, new[] { RunningP2P, Stop, StopCopy })]
    [InlineData(Running, Resuming, new[] { RunningP2P, Stop, Resuming })]
    [InlineData(Running, PreCopyP2P, new[] { RunningP2P, PreCopyP2P })]
    [InlineData(RunningP2P, StopCopy, new[] { Stop, StopCopy })]
    [InlineData(RunningP2P, Resuming, new[] { Stop, Resuming })]
    [InlineData(RunningP2P, PreCopy, new[] { Running, PreCopy })]
    [InlineData(Stop, Running, new[] { RunningP2P, Running })]
    [InlineData(Stop, PreCopy, new[] { RunningP2P, Running, PreCopy })]
    [InlineData(Stop, PreCopyP2P, new[] { RunningP2P, PreCopyP2P })]
    [InlineData(StopCopy, RunningP2P, new[] { Stop, RunningP2P })]
    [InlineData(StopCopy, Running, new[] { Stop, RunningP2P, Running })]
    [InlineData(StopCopy, Resuming, new[] { Stop, Resuming })]
    [InlineData(Resuming, RunningP2P, new[] { Stop, RunningP2P })]
    [InlineData(Resuming, Running, new[] { Stop, RunningP2P, Running })]
    [InlineData(Resuming, PreCopy, new[] { Stop, RunningP2P, Running, PreCopy })]
    [InlineData(Resuming, PreCopyP2P, new[] { Stop, RunningP2P, PreCopyP2P })]
    [InlineData(Resuming, StopCopy, new[] { Stop, StopCopy })]
    [InlineData(PreCopy, StopCopy, new[] { PreCopyP2P, StopCopy })]
    [InlineData(PreCopy, RunningP2P, new[] { Running, RunningP2P })]
    [InlineData(PreCopy, Stop, new[] { Running, RunningP2P, Stop })]
    [InlineData(PreCopy, Resuming, new[] { Running, RunningP2P, Stop, Resuming })]
    [InlineData(PreCopyP2P, Running, new[] { RunningP2P, Running })]
    [InlineData(PreCopyP2P, Stop, new[] { RunningP2P, Stop })]
    [InlineData(PreCopyP2P, Resuming, new[] { RunningP2P, Stop, Resuming })]
    public void KernelPathsAllFeatures(MigrationState from, MigrationState to, MigrationState[] expected) =>
        Assert.Equal(expected, MigrationPaths.Path(from, to, SC | P2P | PRE));

    // Reference 1.4: STOP_COPY|PRE_COPY (no P2P).
    [Theory]
    [InlineData(PreCopy, StopCopy, new[] { StopCopy })]
    [InlineData(Running, StopCopy, new[] { Stop, StopCopy })]
    [InlineData(Running, Resuming, new[] { Stop, Resuming })]
    [InlineData(Stop, PreCopy, new[] { Running, PreCopy })]
    [InlineData(StopCopy, Running, new[] { Stop, Running })]
    [InlineData(StopCopy, Resuming, new[] { Stop, Resuming })]
    [InlineData(Resuming, Running, new[] { Stop, Running })]
    [InlineData(Resuming, PreCopy, new[] { Stop, Running, PreCopy })]
    [InlineData(Resuming, StopCopy, new[] { Stop, StopCopy })]
    [InlineData(PreCopy, Stop, new[] { Running, Stop })]
    [InlineData(PreCopy, Resuming, new[] { Running, Stop, Resuming })]
    public void KernelPathsWithoutP2P(MigrationState from, MigrationState to, MigrationState[] expected) =>
        Assert.Equal(expected, MigrationPaths.Path(from, to, SC | PRE));

    [Theory]
    [InlineData(Running, StopCopy, new[] { RunningP2P, Stop, StopCopy })]
    [InlineData(Resuming, Running, new[] { Stop, RunningP2P, Running })]
    [InlineData(StopCopy, Resuming, new[] { Stop, Resuming })]
    public void KernelPathsP2PWithoutPreCopy(MigrationState from, MigrationState to, MigrationState[] expected) =>
        Assert.Equal(expected, MigrationPaths.Path(from, to, SC | P2P));

    [Theory]
    [InlineData(PreCopy)]
    [InlineData(PreCopyP2P)]
    public void StopCopyToPreCopyIsRefusedWithTypedError(MigrationState target)
    {
        Assert.True(MigrationPaths.IsForbidden(StopCopy, target));
        var e = Assert.Throws<DeviceException>(() => MigrationPaths.Path(StopCopy, target, SC | P2P | PRE));
        Assert.Equal(DeviceErrorKind.TransitionRefused, e.Kind);
        Assert.Equal(StopCopy, e.State);
        Assert.Null(MigrationPaths.NextStep(StopCopy, target, SC | P2P | PRE)); // and the fixed skip loop terminates
    }

    [Fact]
    public void SessionArcsAndSavingGroup()
    {
        var opening = new[] { (Running, PreCopy), (RunningP2P, PreCopyP2P), (Stop, StopCopy), (Stop, Resuming) };
        foreach (var a in AllStates)
            foreach (var b in AllStates)
                Assert.Equal(opening.Contains((a, b)), MigrationPaths.OpensSession(a, b));
        Assert.Equal(new[] { StopCopy, PreCopy, PreCopyP2P }, AllStates.Where(MigrationPaths.IsSavingGroup).Order().ToArray());
    }
}
