internal import CLinux

/// `RLIMIT_MEMLOCK`: how many bytes this process may mlock (and long-term pin through
/// io_uring or RDMA) without `CAP_IPC_LOCK`. `nil` means unlimited.
public struct MemoryLockLimit: Sendable, Equatable {
    public let soft: UInt64?
    public let hard: UInt64?

    public init(soft: UInt64?, hard: UInt64?) {
        self.soft = soft
        self.hard = hard
    }

    /// The current limit.
    ///
    /// The corresponding C call is `getrlimit(RLIMIT_MEMLOCK)`.
    public static func current() -> MemoryLockLimit {
        var soft: UInt64 = 0
        var hard: UInt64 = 0
        guard clinux_get_memlock_limit(&soft, &hard) == 0 else { return MemoryLockLimit(soft: nil, hard: nil) }
        return MemoryLockLimit(soft: soft == .max ? nil : soft, hard: hard == .max ? nil : hard)
    }

    /// Raises the limit as far as this process may: to unlimited when it may raise the hard
    /// limit (`CAP_SYS_RESOURCE`), otherwise the soft limit up to the hard limit.
    ///
    /// The corresponding C call is `setrlimit(RLIMIT_MEMLOCK)`.
    /// - Returns: the limit now in force.
    @discardableResult
    public static func raise() -> MemoryLockLimit {
        if clinux_set_memlock_limit(.max, .max) != 0 {
            let now = current()
            if now.soft != now.hard { _ = clinux_set_memlock_limit(now.hard ?? .max, now.hard ?? .max) }
        }
        return current()
    }
}
