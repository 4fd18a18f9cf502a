using StreamKit.Device.Vfio;

namespace StreamKit.LabTests;

/// <summary>What a port's registers show (reading drains the loopback FIFO).</summary>
internal readonly record struct PortSnapshot(byte Scr, byte Lcr, byte Lsr, string Fifo)
{
    public override string ToString() => $"SCR=0x{Scr:x2} LCR=0x{Lcr:x2} LSR=0x{Lsr:x2} fifo=\"{Fifo}\"";
}

/// <summary>
/// The mtty sample's 16550-like UARTs through the device fd: BAR n is port n, one byte per register
/// (RX/TX 0, FCR 2, LCR 3, LSR 5, SCR 7). Bytes written to TX land in a 16-byte loopback FIFO.
/// </summary>
internal sealed class MttyPorts
{
    private const ulong RxTx = 0, Fcr = 2, Lcr = 3, Lsr = 5, Scr = 7;
    private readonly VfioDevice _device;
    private readonly VfioRegionInfo[] _bars;

    internal MttyPorts(VfioDevice device, int ports)
    {
        _device = device;
        _bars = new VfioRegionInfo[ports];
        for (uint i = 0; i < ports; i++) _bars[i] = device.GetRegionInfo(i);
    }

    internal int Count => _bars.Length;
    internal VfioRegionInfo Bar(int port) => _bars[port];

    internal void Write(int port, ulong register, byte value) => _device.WriteRegion(_bars[port], register, [value]);

    internal byte Read(int port, ulong register)
    {
        Span<byte> b = stackalloc byte[1];
        _device.ReadRegion(_bars[port], register, b);
        return b[0];
    }

    /// <summary>Clears the FIFOs (mdev instances keep state across opens), then sets SCR, LCR and queues <paramref name="fifo"/>.</summary>
    internal void Seed(int port, byte scr, byte lcr, string fifo)
    {
        Write(port, Fcr, 0x07);
        Write(port, Scr, scr);
        Write(port, Lcr, lcr);
        foreach (char c in fifo) Write(port, RxTx, (byte)c);
    }

    internal void Transmit(int port, char c) => Write(port, RxTx, (byte)c);

    /// <summary>Reads SCR, LCR, LSR, then drains the FIFO while LSR says data ready.</summary>
    internal PortSnapshot Snapshot(int port)
    {
        byte scr = Read(port, Scr), lcr = Read(port, Lcr), lsr = Read(port, Lsr);
        var fifo = new System.Text.StringBuilder();
        for (int i = 0; i < 16 && (Read(port, Lsr) & 1) != 0; i++) fifo.Append((char)Read(port, RxTx));
        return new PortSnapshot(scr, lcr, lsr, fifo.ToString());
    }
}
