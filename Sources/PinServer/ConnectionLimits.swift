import LinuxFS

/// How many connections each listener accepts. With epoll an idle connection costs a descriptor
/// and its memory pool (``PinHTTPServer/connectionMemoryBytes``), so the limit follows the
/// descriptor limit rather than a fixed 256.
enum ConnectionLimits {
    /// Descriptors kept for everything else (state database, files being prepared or pinned,
    /// lease-break descriptors, webhook sockets): this many, or a quarter of a smaller limit.
    static let reservedDescriptors: UInt64 = 4096
    /// The TCP listener's automatic limit is at most this: 10,000 idle connections held open
    /// still leave room for thousands of active clients (bench/connections.sh holds 10,000).
    static let maximumTCP: UInt64 = 16_384
    /// The Unix socket's automatic limit is at most this; it is the operator's way in.
    static let maximumUnix: UInt64 = 1024

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit in force.
    @discardableResult
    static func raiseDescriptorLimit() -> UInt64 {
        DescriptorLimit.raiseToHardLimit() ?? 1024
    }

    /// The automatic limits for a descriptor limit of `descriptors`: three quarters of what is
    /// left after the reserve for TCP, an eighth for the Unix socket, each at least 64. With
    /// the common soft limit of 1024 that is 576 TCP connections (more than the 256 of old).
    static func automatic(descriptors: UInt64) -> (tcp: UInt32, unix: UInt32) {
        let available = descriptors - min(reservedDescriptors, descriptors / 4)
        let tcp = min(maximumTCP, max(64, available / 4 * 3))
        let unix = min(maximumUnix, max(64, available / 8))
        return (UInt32(tcp), UInt32(unix))
    }
}
