namespace StreamKit.Transport.Control;

/// <summary>
/// What a control connection hands well-formed requests to. The connection has already framed the
/// line, parsed it, checked fd arity, answered hello and refused everything before it. Implemented
/// by <see cref="SourceControlHandler"/> and <see cref="DestinationControlHandler"/>, which in turn
/// drive an <see cref="ISourceControlSession"/> / <see cref="IDestinationControlSession"/>.
/// </summary>
internal interface IControlHandler
{
    /// <summary>The role this handler serves (hello reports it; ops of the other role are refused).</summary>
    ControlRole Role { get; }

    /// <summary>Called once by the server that serves this handler: where events go.</summary>
    void Attach(IControlEventSink events);

    /// <summary>
    /// Handles one request. Called on the connection's loop in arrival order, so the synchronous
    /// part of each call sees requests in order; the returned task may complete later (switchover
    /// waits for the destination), and later requests are handled meanwhile. Return null for a plain
    /// <c>{"ok":true}</c>; throw <see cref="ControlRequestException"/> to refuse. Fds the handler
    /// keeps must be <see cref="PassedFd.Claim"/>ed before the task completes; the rest are closed.
    /// </summary>
    ValueTask<ControlReply?> HandleAsync(ControlRequest request, CancellationToken cancellationToken);

    /// <summary>A connection that completed hello ended (peer closed, protocol error, server stopped).</summary>
    void OnDisconnected(string reason);
}

/// <summary>Where sessions and devices send events for the VMM.</summary>
internal interface IControlEventSink
{
    /// <summary>Queues <paramref name="controlEvent"/> for the connected VMM; false when none is connected.</summary>
    bool Publish(ControlEvent controlEvent);
}
