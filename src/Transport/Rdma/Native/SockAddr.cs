using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace StreamKit.Transport.Rdma.Native;

/// <summary>
/// Encodes an <see cref="IPEndPoint"/> as the Linux <c>struct sockaddr_in</c> /
/// <c>struct sockaddr_in6</c> that rdma_bind_addr and rdma_resolve_addr take.
/// <code>
/// sockaddr_in (16 bytes)             sockaddr_in6 (28 bytes)
/// off size field                     off size field
///   0   2  sin_family  2 (host order)  0   2  sin6_family   10 (host order)
///   2   2  sin_port    big-endian      2   2  sin6_port     big-endian
///   4   4  sin_addr    network order   4   4  sin6_flowinfo 0
///   8   8  zero                        8  16  sin6_addr     network order
///                                     24   4  sin6_scope_id host order
/// </code>
/// </summary>
internal static class SockAddr
{
    internal const int MaxSize = 28;
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;

    /// <summary>Writes the sockaddr for <paramref name="endPoint"/>; returns its length.</summary>
    internal static int Encode(IPEndPoint endPoint, Span<byte> destination)
    {
        destination[..MaxSize].Clear();
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            MemoryMarshal.Write(destination, AfInet);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(destination.Slice(4, 4), out _);
            return 16;
        }
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            MemoryMarshal.Write(destination, AfInet6);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endPoint.Port);
            endPoint.Address.TryWriteBytes(destination.Slice(8, 16), out _);
            MemoryMarshal.Write(destination[24..], (uint)endPoint.Address.ScopeId);
            return 28;
        }
        throw new ArgumentException($"RDMA needs an IPv4 or IPv6 address, not {endPoint.AddressFamily}", nameof(endPoint));
    }

    /// <summary>Reads a sockaddr_in / sockaddr_in6 back; null for any other family.</summary>
    internal static IPEndPoint? Decode(ReadOnlySpan<byte> source)
    {
        ushort family = MemoryMarshal.Read<ushort>(source);
        int port = BinaryPrimitives.ReadUInt16BigEndian(source[2..]);
        if (family == AfInet) return new IPEndPoint(new IPAddress(source.Slice(4, 4)), port);
        if (family == AfInet6) return new IPEndPoint(new IPAddress(source.Slice(8, 16), MemoryMarshal.Read<uint>(source[24..])), port);
        return null;
    }
}
