import Glibc

/// An open file descriptor owned by this object: it is closed exactly once, when
/// the last reference goes away.
///
/// Operations on the file (``status()``, ``extents(from:length:sync:)``, leases, …)
/// are extensions defined next to the concept they implement.
public final class OpenFile: Sendable {
    /// The owned descriptor. Valid for the lifetime of this object; do not close it.
    public let fd: Int32
    /// The path the file was opened by; used only in error messages.
    public let path: String

    /// Takes ownership of `fd`; it will be closed when this object is deinitialized.
    public init(adopting fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        // Never retry close(2) on EINTR on Linux: the descriptor is already released.
        _ = close(fd)
    }
}

extension OpenFile {
    /// Opens the same inode again, as a new open file description with `flags` (read-only by
    /// default): through this process's `/proc/self/fd/<fd>` link, so no path is looked up
    /// and nothing can be swapped in between.
    ///
    /// The corresponding C call is `open("/proc/self/fd/N", flags | O_CLOEXEC)`.
    /// - Throws: `LinuxError`, e.g. `EPERM` for write access to an immutable file.
    public func reopen(flags: OpenFlags = .readOnly) throws(LinuxError) -> OpenFile {
        let link = "/proc/self/fd/\(fd)"
        let reopened = try retryingOnInterrupt("open(\(link))", path: path) {
            open(link, flags.rawValue | O_CLOEXEC | O_NOCTTY)
        }
        return OpenFile(adopting: reopened, path: path)
    }
}
