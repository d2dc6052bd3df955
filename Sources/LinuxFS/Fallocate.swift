internal import CLinux
import Glibc

/// The operations of ``OpenFile/allocate(_:offset:length:)`` (`fallocate(2)` modes).
public enum FallocateMode: Sendable, Hashable {
    /// Mode 0: allocate the range (as unwritten extents on ext4, xfs, btrfs), growing the file.
    case allocate
    /// `FALLOC_FL_WRITE_ZEROES` (0x80, Linux 6.17): zero the range so later writes need
    /// no mapping changes (written extents). Often `EOPNOTSUPP`.
    case writeZeroes
    /// `FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE` (0x41): give shared (reflinked)
    /// blocks private copies. XFS only in practice; `EOPNOTSUPP` elsewhere.
    case unshareKeepSize
    /// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` (0x03): deallocate the range, keeping the size.
    case punchHoleKeepSize

    /// The `mode` argument passed to `fallocate`.
    public var rawValue: Int32 {
        switch self {
        case .allocate: 0
        case .writeZeroes: CLINUX_FALLOC_FL_WRITE_ZEROES
        case .unshareKeepSize: CLINUX_FALLOC_FL_UNSHARE_RANGE | CLINUX_FALLOC_FL_KEEP_SIZE
        case .punchHoleKeepSize: CLINUX_FALLOC_FL_PUNCH_HOLE | CLINUX_FALLOC_FL_KEEP_SIZE
        }
    }
}

extension OpenFile {
    /// Manipulates the allocated space of `offset ..< offset + length` as `mode` says.
    ///
    /// The corresponding C function is `fallocate`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `fallocate`: `EOPNOTSUPP` (mode not supported by the
    ///   filesystem), `ENOSPC`, `EPERM` (immutable or append-only), `ETXTBSY` (swapfile),
    ///   `EBADF` (not open for writing), `EINVAL` (offsets beyond `Int64.max`).
    public func allocate(_ mode: FallocateMode, offset: UInt64, length: UInt64) throws(LinuxError) {
        guard offset <= UInt64(Int64.max), length <= UInt64(Int64.max) else {
            throw LinuxError(errno: EINVAL, call: "fallocate", path: path)
        }
        _ = try retryingOnInterrupt("fallocate", path: path) {
            clinux_fallocate(fd, mode.rawValue, Int64(offset), Int64(length))
        }
    }
}
