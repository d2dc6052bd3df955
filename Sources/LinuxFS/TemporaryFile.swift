internal import CLinux
import Glibc

/// Creates an unnamed regular file in `directory`'s filesystem, open for reading and writing.
/// It never appears in the directory and its blocks are freed when the descriptor is closed,
/// so nothing is left behind even if the process dies.
///
/// The corresponding C call is `openat(dirfd, ".", O_TMPFILE|O_RDWR|O_CLOEXEC, 0600)`.
/// - Throws: `LinuxError`, e.g. `EOPNOTSUPP` where the filesystem has no `O_TMPFILE`,
///   `EROFS` on a read-only mount.
public func openUnnamedTemporaryFile(in directory: OpenFile) throws(LinuxError) -> OpenFile {
    let fd = try retryingOnInterrupt("openat(O_TMPFILE)", path: directory.path) {
        openat(directory.fd, ".", CLINUX_O_TMPFILE | O_RDWR | O_CLOEXEC, mode_t(0o600))
    }
    return OpenFile(adopting: fd, path: directory.path + "/(O_TMPFILE)")
}
