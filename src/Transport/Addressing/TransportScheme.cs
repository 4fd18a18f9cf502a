namespace StreamKit.Transport;

/// <summary>The transports a <see cref="TransportAddress"/> can name.</summary>
public enum TransportScheme
{
    /// <summary><c>tcp://host:port?channels=N</c>: N parallel TCP connections.</summary>
    Tcp,
    /// <summary><c>unix:/path?channels=N</c>: N parallel Unix domain stream sockets.</summary>
    Unix,
    /// <summary><c>file:/path</c>: the stream written to (or read from) a file, same format, no return path.</summary>
    File,
    /// <summary><c>rdma://host:port?channels=N</c>: N RDMA reliable connections (verbs + rdma_cm; spec/rdma-transport.md).</summary>
    Rdma,
}
