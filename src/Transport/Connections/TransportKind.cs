namespace StreamKit.Transport;

/// <summary>The implementation behind a connection (a metrics tag and a hint in messages).</summary>
internal enum TransportKind
{
    Tcp,
    Unix,
    File,
    Memory,
    Rdma,
}
