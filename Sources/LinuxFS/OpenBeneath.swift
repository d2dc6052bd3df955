internal import CLinux
import Glibc

/// How many times an `EAGAIN` from `openat2` (a concurrent rename or mount raced the
/// `RESOLVE_BENEATH` lookup) is retried before it is reported.
private let openBeneathAgainRetries = 64

/// Opens `relativePath` strictly beneath `dir`: the lookup may not leave `dir`
/// (no `..` escape, no absolute path), may not follow any symlink (including the
/// last component and `/proc` magic links) and may not cross a mount point.
///
/// `O_CLOEXEC | O_NOFOLLOW` are always added to `flags`, and `O_NOCTTY` unless the open is
/// ``OpenFlags/pathOnly`` (openat2 refuses it with `O_PATH`). With `O_PATH | O_NOFOLLOW` a
/// trailing symlink is returned as itself, so callers must check the file's kind. `mode`
/// is used only with ``OpenFlags/create``.
///
/// The corresponding C function is `openat2` (syscall 437) with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`.
/// `EINTR` is retried, and `EAGAIN` up to 64 times.
/// - Throws: `LinuxError` from `openat2`; notably `EXDEV` for an escape or mount
///   crossing, `ELOOP` for a symlink component, `ENOENT`, `EISDIR`, `EPERM`
///   (immutable file opened for writing), `EAGAIN` (`nonBlocking` open that breaks a lease).
public func openBeneath(
    _ dir: OpenFile,
    _ relativePath: String,
    flags: OpenFlags,
    mode: UInt32 = 0o644
) throws(LinuxError) -> OpenFile {
    let openFlags = flags.rawValue | O_CLOEXEC | O_NOFOLLOW | (flags.contains(.pathOnly) ? 0 : O_NOCTTY)
    // openat2 rejects a non-zero mode unless the file may be created.
    let openMode: UInt64 = flags.contains(.create) ? UInt64(mode) : 0
    let resolve =
        CLINUX_RESOLVE_BENEATH | CLINUX_RESOLVE_NO_SYMLINKS | CLINUX_RESOLVE_NO_MAGICLINKS
        | CLINUX_RESOLVE_NO_XDEV
    var againRetries = 0
    while true {
        let fd = clinux_openat2(dir.fd, relativePath, UInt64(UInt32(bitPattern: openFlags)), openMode, resolve)
        if fd >= 0 { return OpenFile(adopting: fd, path: relativePath) }
        let code = Glibc.errno
        if code == EINTR { continue }
        if code == EAGAIN && againRetries < openBeneathAgainRetries {
            againRetries += 1
            continue
        }
        throw LinuxError(errno: code, call: "openat2", path: relativePath)
    }
}
