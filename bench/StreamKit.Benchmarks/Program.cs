using BenchmarkDotNet.Running;

namespace StreamKit.Benchmarks;

internal static class Program
{
    private static async Task Main(string[] args)
    {
        // Plain end-to-end checks that BenchmarkDotNet's per-op model does not fit.
        if (args.Length > 0 && args[0] == "loopback")
        {
            await LoopbackThroughput.RunAsync(args);
            return;
        }
        if (args.Length > 0 && args[0] == "e2e")
        {
            Environment.ExitCode = await EndToEnd.E2eCommand.RunAsync(args);
            return;
        }
        if (args.Length > 0 && args[0] == "e2e-child")
        {
            Environment.ExitCode = await EndToEnd.E2eChild.RunAsync(args);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
