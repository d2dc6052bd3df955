internal import CLinux
import Glibc

/// A kernel file lease type (`fcntl(2)` "Leases").
public enum LeaseKind: Sendable, Hashable {
    /// `F_RDLCK`: granted only while nobody has the file open for writing; broken by a
    /// later open for writing or `truncate`.
    case read
    /// `F_WRLCK`: granted only to the sole opener; broken by any later open or `truncate`.
    case write
    /// `F_UNLCK`: no lease (to remove one, or as reported when none is held).
    case none

    var lockType: Int32 {
        switch self {
        case .read: Int32(F_RDLCK)
        case .write: Int32(F_WRLCK)
        case .none: Int32(F_UNLCK)
        }
    }
}

extension OpenFile {
    /// Chooses the signal sent to this process when a lease on this open file is broken
    /// (instead of `SIGIO`, whose default action kills the process). With an `SA_SIGINFO`
    /// handler, `si_fd` names the descriptor; see ``LeaseBreakSignal``.
    ///
    /// The corresponding C call is `fcntl(fd, F_SETSIG, signal)`.
    /// - Throws: `LinuxError` from `fcntl`, e.g. `EINVAL` for an invalid signal.
    public func setLeaseSignal(_ signal: Int32) throws(LinuxError) {
        _ = try retryingOnInterrupt("fcntl(F_SETSIG)", path: path) { fcntl(fd, CLINUX_F_SETSIG, signal) }
    }

    /// Takes, changes or (with ``LeaseKind/none``) releases the lease on this open file.
    /// Releasing also lets a writer that is waiting on a lease break proceed at once.
    ///
    /// The corresponding C call is `fcntl(fd, F_SETLEASE, F_RDLCK | F_WRLCK | F_UNLCK)`.
    /// - Throws: `LinuxError` from `fcntl`: `EAGAIN` when a conflicting open exists (any
    ///   writer, including writable shared mappings, for a read lease), `EACCES` when not
    ///   the owner and without `CAP_LEASE`, `EINVAL` for non-regular files.
    public func setLease(_ kind: LeaseKind) throws(LinuxError) {
        _ = try retryingOnInterrupt("fcntl(F_SETLEASE)", path: path) {
            fcntl(fd, CLINUX_F_SETLEASE, kind.lockType)
        }
    }

    /// Returns the lease held on this open file. While a break is pending this is the
    /// type the lease is being downgraded to (``LeaseKind/none`` for a broken read lease).
    ///
    /// The corresponding C call is `fcntl(fd, F_GETLEASE)`.
    /// - Throws: `LinuxError` from `fcntl`.
    public func currentLease() throws(LinuxError) -> LeaseKind {
        let type = try retryingOnInterrupt("fcntl(F_GETLEASE)", path: path) { fcntl(fd, CLINUX_F_GETLEASE) }
        switch type {
        case Int32(F_RDLCK): return .read
        case Int32(F_WRLCK): return .write
        default: return .none
        }
    }
}
