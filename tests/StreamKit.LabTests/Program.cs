namespace StreamKit.LabTests;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("lab checks arrive with the device issue");
        return 2;
    }
}
