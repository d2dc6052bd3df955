import Glibc

/// Removes the regular file at `relativePath` beneath `dir`, resolving its parent directory
/// with the same confinement as ``openBeneath(_:_:flags:mode:)`` (no `..`, no symlinks, no
/// mount crossings), so the unlink cannot act outside `dir`.
///
/// The corresponding C functions are `openat2` (for the parent) and `unlinkat`.
public func removeBeneath(_ dir: OpenFile, _ relativePath: String) throws(LinuxError) {
    let components = relativePath.split(separator: "/", omittingEmptySubsequences: true)
    guard let name = components.last else { throw LinuxError(errno: EINVAL, call: "unlinkat", path: relativePath) }
    let parentPath = components.dropLast().joined(separator: "/")
    let parent = parentPath.isEmpty ? dir : try openBeneath(dir, parentPath, flags: [.pathOnly, .directory])
    while unlinkat(parent.fd, String(name), 0) != 0 {
        let code = Glibc.errno
        if code != EINTR { throw LinuxError(errno: code, call: "unlinkat", path: relativePath) }
    }
}
