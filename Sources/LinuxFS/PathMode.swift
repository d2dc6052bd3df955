import Glibc

/// What ``checkAccess(_:_:)`` asks for.
public struct AccessMode: OptionSet, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// `R_OK`.
    public static let read = AccessMode(rawValue: R_OK)
    /// `W_OK`.
    public static let write = AccessMode(rawValue: W_OK)
    /// `X_OK` (search, for a directory).
    public static let execute = AccessMode(rawValue: X_OK)
}

/// Checks whether this process's real user and group may access `path` as `mode` says
/// (following symbolic links). Only a hint: the answer may change right after.
///
/// The corresponding C function is `access`; `EINTR` is retried.
/// - Throws: `LinuxError` from `access`, e.g. `EACCES`, `ENOENT` or `EROFS`.
public func checkAccess(_ path: String, _ mode: AccessMode) throws(LinuxError) {
    _ = try retryingOnInterrupt("access", path: path) { access(path, mode.rawValue) }
}

/// The mode (file type and permission bits, `st_mode`) of what `path` names, without following a
/// symbolic link in its last component.
///
/// The corresponding C function is `lstat`; `EINTR` is retried.
/// - Throws: `LinuxError` from `lstat`, e.g. `ENOENT`.
public func fileMode(atPath path: String) throws(LinuxError) -> UInt32 {
    var info = stat()
    _ = try retryingOnInterrupt("lstat", path: path) { lstat(path, &info) }
    return UInt32(info.st_mode)
}

/// Sets the permission bits of what `path` names to `mode` (following symbolic links).
///
/// The corresponding C function is `chmod`; `EINTR` is retried.
/// - Throws: `LinuxError` from `chmod`, e.g. `ENOENT` or `EPERM`.
public func changeFileMode(atPath path: String, to mode: UInt32) throws(LinuxError) {
    _ = try retryingOnInterrupt("chmod", path: path) { chmod(path, mode_t(mode)) }
}
