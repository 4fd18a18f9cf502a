namespace StreamKit.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("streamkit: commands arrive with the CLI issue");
        return 2;
    }
}
