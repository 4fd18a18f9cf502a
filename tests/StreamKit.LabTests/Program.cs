using StreamKit.Device;

namespace StreamKit.LabTests;

/// <summary>
/// Runs inside the VFIO lab (../shared/vfio-lab/run.sh): real mtty devices A, B (mtty-2) and C (mtty-1),
/// checked through both the iommufd cdev API and the group/container API. Prints one line per check
/// ("PASS name: detail" / "FAIL name: reason") and a summary; exits 1 if any check failed.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var runner = new CheckRunner();
        if (Environment.GetEnvironmentVariable("VFIO_LAB") != "1")
        {
            Console.Error.WriteLine("StreamKit.LabTests runs inside the VFIO lab: ../shared/vfio-lab/run.sh -- dotnet StreamKit.LabTests.dll");
            runner.FailNotRun("not inside the VFIO lab (VFIO_LAB is not 1)");
            Summary(runner);
            return 2;
        }
        Console.WriteLine($"lab: kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, .NET {Environment.Version}, " +
                          $"A={Environment.GetEnvironmentVariable("VFIO_LAB_A_UUID")}");
        string[] apis = args is ["--api", var only] ? [only] : LabCheckNames.Apis;
        foreach (string api in apis)
        {
            try
            {
                new MigrationChecks(api, runner).RunAll();
            }
            catch (Exception e)
            {
                runner.FailNotRun(api, $"the {api} scenario crashed: {CheckRunner.Describe(e)}");
            }
        }
        if (apis.Length == LabCheckNames.Apis.Length)
        {
            try
            {
                new CliChecks(runner).RunAll();
            }
            catch (Exception e)
            {
                runner.FailNotRun($"the streamkit command checks crashed: {CheckRunner.Describe(e)}");
            }
            runner.FailNotRun("the program ended before this check ran");
        }
        Summary(runner);
        return runner.Failed == 0 ? 0 : 1;
    }

    private static void Summary(CheckRunner runner) =>
        Console.WriteLine($"lab: {runner.Passed} passed, {runner.Failed} failed in {runner.Elapsed.TotalSeconds:0.0} s");
}
