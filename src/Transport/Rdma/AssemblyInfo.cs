using System.Runtime.CompilerServices;

// The RDMA lab checks (tests/StreamKit.RdmaLabTests) drive the internal channel API inside the
// soft-RoCE lab. (Directory.Build.props grants the other test assemblies.)
[assembly: InternalsVisibleTo("StreamKit.RdmaLabTests")]
