using System.Reflection;

namespace StreamKit.Tests.Lab;

/// <summary>
/// Finds what a VFIO lab run needs: the repository root, the lab's run.sh (env STREAMKIT_VFIO_LAB,
/// else shared/vfio-lab/run.sh in the repository root or any folder above it, as in CI where
/// shared/ sits beside the clone), qemu, the lab kernel, the dotnet host and the built lab program.
/// A missing lab or qemu is a visible skip; a missing lab program is a failure (the build made it).
/// </summary>
internal static class VfioLabEnvironment
{
    private static readonly Lazy<Located> Instance = new(Locate);
    private static readonly Lazy<Located> RdmaInstance = new(() => WithRdma(Instance.Value));

    internal sealed record Located(string? SkipReason, string RepoRoot, string RunScript, string DotnetHost, string LabProgram);

    internal static Located Get() => Instance.Value;

    /// <summary>The same lab booted with <c>--rdma</c> (soft-RoCE rxe0), running tests/StreamKit.RdmaLabTests.</summary>
    internal static Located GetRdma() => RdmaInstance.Value;

    /// <summary>Why the lab tests are skipped here, or null when they run.</summary>
    internal static string? SkipReason => Get().SkipReason;

    /// <summary>Why the RDMA lab tests are skipped here, or null when they run.</summary>
    internal static string? RdmaSkipReason => GetRdma().SkipReason;

    private static Located WithRdma(Located vfio)
    {
        if (vfio.SkipReason is not null) return vfio;
        // run.sh --rdma needs the soft-RoCE verbs provider and librdmacm on this machine (the guest uses them).
        bool provider = Directory.Exists("/usr/lib") && Directory.EnumerateDirectories("/usr/lib")
            .Select(dir => Path.Combine(dir, "libibverbs"))
            .Any(dir => Directory.Exists(dir) && Directory.EnumerateFiles(dir, "librxe-rdmav*.so").Any());
        if (!provider)
            return Skip("RDMA lab: no soft-RoCE provider (apt-get install -y ibverbs-providers librdmacm1)");
        string program = vfio.LabProgram.Replace(
            Path.Combine("tests", "StreamKit.LabTests", "bin"), Path.Combine("tests", "StreamKit.RdmaLabTests", "bin"))
            .Replace("StreamKit.LabTests.dll", "StreamKit.RdmaLabTests.dll");
        return vfio with { LabProgram = program };
    }

    private static Located Locate()
    {
        string? root = FindUp(AppContext.BaseDirectory, dir => File.Exists(Path.Combine(dir, "StreamKit.sln")));
        if (root is null)
            return Skip($"VFIO lab: no StreamKit.sln above {AppContext.BaseDirectory}");

        string? runScript;
        string? fromEnv = Environment.GetEnvironmentVariable("STREAMKIT_VFIO_LAB");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (!File.Exists(fromEnv)) return Skip($"VFIO lab: STREAMKIT_VFIO_LAB={fromEnv} does not exist");
            runScript = Path.GetFullPath(fromEnv);
        }
        else
        {
            string? shared = FindUp(root, dir => File.Exists(Path.Combine(dir, "shared", "vfio-lab", "run.sh")));
            if (shared is null)
                return Skip($"VFIO lab: no shared/vfio-lab/run.sh beside or above {root} (set STREAMKIT_VFIO_LAB to run.sh)");
            runScript = Path.Combine(shared, "shared", "vfio-lab", "run.sh");
        }

        if (!OperatingSystem.IsLinux())
            return Skip("VFIO lab: needs a Linux host");
        if (FindOnPath("qemu-system-x86_64") is null)
            return Skip("VFIO lab: qemu-system-x86_64 is not on PATH (apt-get install -y qemu-system-x86)");
        string kernel = Environment.GetEnvironmentVariable("VFIO_LAB_KERNEL") is { Length: > 0 } k ? k
            : Path.Combine(Path.GetDirectoryName(runScript)!, "bzImage");
        if (!File.Exists(kernel))
            return Skip($"VFIO lab: no lab kernel at {kernel}");

        // The lab program is built with the tests (ProjectReference); same configuration and framework.
        string configuration = typeof(VfioLabEnvironment).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        string framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        string program = Path.Combine(root, "tests", "StreamKit.LabTests", "bin", configuration, framework, "StreamKit.LabTests.dll");

        return new Located(null, root, runScript, DotnetHost(), program);
    }

    private static Located Skip(string reason) => new(reason, "", "", "", "");

    /// <summary>The dotnet host running these tests (the guest sees this machine's /, so the same path works there).</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return FindOnPath("dotnet") ?? "dotnet";
    }

    private static string? FindUp(string start, Func<string, bool> match)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (match(dir.FullName)) return dir.FullName;
        return null;
    }

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        return null;
    }
}
