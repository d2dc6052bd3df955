import Glibc

/// Opens the directory at `path` (absolute or relative to the working directory)
/// for use as the anchor of ``openBeneath(_:_:flags:mode:)``.
///
/// Symlinks in `path` are followed; confinement starts below the returned directory.
///
/// The corresponding C call is `open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)`.
/// - Throws: `LinuxError` from `open`, e.g. `ENOENT` or `ENOTDIR`.
public func openDirectory(_ path: String) throws(LinuxError) -> OpenFile {
    let fd = try retryingOnInterrupt("open", path: path) {
        open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }
    return OpenFile(adopting: fd, path: path)
}
