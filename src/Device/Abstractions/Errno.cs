namespace StreamKit.Device;

/// <summary>Linux errno values the migration protocol uses (asm-generic/errno-base.h, errno.h).</summary>
public static class Errno
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;
    /// <summary>No such file or directory.</summary>
    public const int ENOENT = 2;
    /// <summary>Interrupted system call.</summary>
    public const int EINTR = 4;
    /// <summary>I/O error.</summary>
    public const int EIO = 5;
    /// <summary>Bad file descriptor (wrong direction on a data_fd).</summary>
    public const int EBADF = 9;
    /// <summary>Try again (non-blocking, no data yet).</summary>
    public const int EAGAIN = 11;
    /// <summary>Out of memory; from drivers: image too large / incompatible.</summary>
    public const int ENOMEM = 12;
    /// <summary>Permission denied.</summary>
    public const int EACCES = 13;
    /// <summary>Bad address; from mtty/hisi writes: compatibility check failed.</summary>
    public const int EFAULT = 14;
    /// <summary>Device or resource busy.</summary>
    public const int EBUSY = 16;
    /// <summary>No such device: the data session was disabled (reset, session ended).</summary>
    public const int ENODEV = 19;
    /// <summary>Invalid argument; at RESUMING→STOP: state incomplete or invalid.</summary>
    public const int EINVAL = 22;
    /// <summary>Inappropriate ioctl: no migration support.</summary>
    public const int ENOTTY = 25;
    /// <summary>Illegal seek (positioned I/O on data_fd).</summary>
    public const int ESPIPE = 29;
    /// <summary>Broken pipe.</summary>
    public const int EPIPE = 32;
    /// <summary>No message of desired type: temporary end of pre-copy data.</summary>
    public const int ENOMSG = 42;
    /// <summary>Operation not supported (mlx5: unknown mandatory record tag).</summary>
    public const int EOPNOTSUPP = 95;

    /// <summary>Symbolic name of an errno value.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EINTR => "EINTR", EIO => "EIO", EBADF => "EBADF",
        EAGAIN => "EAGAIN", ENOMEM => "ENOMEM", EACCES => "EACCES", EFAULT => "EFAULT", EBUSY => "EBUSY",
        ENODEV => "ENODEV", EINVAL => "EINVAL", ENOTTY => "ENOTTY", ESPIPE => "ESPIPE", EPIPE => "EPIPE",
        ENOMSG => "ENOMSG", EOPNOTSUPP => "EOPNOTSUPP",
        _ => $"errno{errno}",
    };
}
