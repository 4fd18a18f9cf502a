using System.Diagnostics;
using System.Net;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// RDMA lab checks. Inside the lab:
/// <c>/work/shared/vfio-lab/run.sh --rdma -- dotnet tests/StreamKit.RdmaLabTests/bin/Debug/net10.0/StreamKit.RdmaLabTests.dll [check ...]</c>.
/// Prints <c>PASS name</c> or <c>FAIL name: reason</c> per check (details indented below);
/// the exit code is the number of failures. <c>--peer MODE ADDR PORT</c> is the child-process
/// peer that the peer-death checks start and kill.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--peer") return await PeerProcess.RunAsync(args[1..]);
        if (args.Length > 0 && args[0] == "--session-peer") return await SessionPeer.RunAsync(args[1..]);

        string? address = Environment.GetEnvironmentVariable("RDMA_LAB_ADDR");
        if (address == null || !IPAddress.TryParse(address, out var ip))
        {
            Console.WriteLine("FAIL environment: RDMA_LAB_ADDR is not set: run inside /work/shared/vfio-lab/run.sh --rdma");
            return 1;
        }
        var lab = new LabChecks(ip, Environment.GetEnvironmentVariable("RDMA_LAB_DEV") ?? "rxe0");
        var sessions = new SessionChecks(ip);
        var all = lab.All().Concat(sessions.All()).Concat(new CliCheck(ip).All()).ToList();
        var checks = args.Length == 0 ? all : all.Concat(lab.Optional()).Where(c => args.Contains(c.Name)).ToList();
        if (checks.Count == 0)
        {
            Console.WriteLine($"FAIL arguments: no check named {string.Join(", ", args)}; known: {string.Join(", ", all.Concat(lab.Optional()).Select(c => c.Name))}");
            return 1;
        }
        int failures = 0;
        if (args.Length == 0 && !all.Select(c => c.Name).SequenceEqual(RdmaLabCheckNames.All))
        {
            // The host maps each listed name to a test row: a check missing from the list would be invisible there.
            Console.WriteLine($"FAIL check-list: the program's checks [{string.Join(", ", all.Select(c => c.Name))}] differ from RdmaLabCheckNames");
            failures++;
        }
        var total = Stopwatch.StartNew();
        foreach (var check in checks)
        {
            var watch = Stopwatch.StartNew();
            using var cts = new CancellationTokenSource(check.Timeout);
            try
            {
                var details = await check.Body(cts.Token).WaitAsync(check.Timeout);
                Console.WriteLine($"PASS {check.Name}");
                foreach (string line in details) Console.WriteLine($"    {line}");
            }
            catch (Exception e)
            {
                failures++;
                string reason = e is TimeoutException ? $"did not finish within {check.Timeout.TotalSeconds:0} s (hang)" : $"{e.GetType().Name}: {e.Message}";
                Console.WriteLine($"FAIL {check.Name}: {reason}");
                if (e is not TimeoutException) Console.WriteLine($"    {e.ToString().Replace("\n", "\n    ")}");
            }
            Console.WriteLine($"    ({watch.Elapsed.TotalSeconds:0.0} s)");
        }
        Console.WriteLine($"rdma lab: {checks.Count - failures} passed, {failures} failed in {total.Elapsed.TotalSeconds:0} s");
        return failures;
    }
}

/// <summary>A named lab check: returns detail lines on success, throws with the reason on failure.</summary>
internal sealed record LabCheck(string Name, TimeSpan Timeout, Func<CancellationToken, Task<IReadOnlyList<string>>> Body);

/// <summary>Assertions that throw with a readable reason.</summary>
internal static class Expect
{
    internal static void True(bool condition, string reason)
    {
        if (!condition) throw new LabCheckException(reason);
    }

    internal static T Throws<T>(Action action, string what) where T : Exception
    {
        try
        {
            action();
        }
        catch (T e)
        {
            return e;
        }
        catch (Exception e)
        {
            throw new LabCheckException($"{what}: expected {typeof(T).Name}, got {e.GetType().Name}: {e.Message}");
        }
        throw new LabCheckException($"{what}: expected {typeof(T).Name}, nothing was thrown");
    }

    internal static async Task<T> ThrowsAsync<T>(Func<Task> action, string what) where T : Exception
    {
        try
        {
            await action();
        }
        catch (T e)
        {
            return e;
        }
        catch (Exception e)
        {
            throw new LabCheckException($"{what}: expected {typeof(T).Name}, got {e.GetType().Name}: {e.Message}");
        }
        throw new LabCheckException($"{what}: expected {typeof(T).Name}, nothing was thrown");
    }
}

internal sealed class LabCheckException(string message) : Exception(message);
