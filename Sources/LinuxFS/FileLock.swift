import Glibc

/// Opens (creating it with `mode` if missing) the file at `path` for reading and writing,
/// following symlinks in `path` like any plain open. For files the daemon owns, such as the
/// lock file of its state directory; files under a root go through ``openBeneath(_:_:flags:mode:)``.
///
/// The corresponding C call is `open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode)`.
/// - Throws: `LinuxError` from `open`, e.g. `EACCES`, `ELOOP` when `path` itself is a symlink.
public func openOrCreate(_ path: String, mode: UInt32) throws(LinuxError) -> OpenFile {
    let fd = try retryingOnInterrupt("open", path: path) {
        open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode)
    }
    return OpenFile(adopting: fd, path: path)
}

extension OpenFile {
    /// Takes an exclusive advisory lock on this open file description without waiting.
    /// Returns `false` when another open file description (another process, or another open
    /// of the file) holds it. The lock lasts until this descriptor, and every duplicate of it,
    /// is closed: the kernel drops it when the process dies, however it dies.
    ///
    /// The corresponding C call is `flock(fd, LOCK_EX | LOCK_NB)`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `flock` for anything but `EWOULDBLOCK`, e.g. `ENOLCK`.
    public func tryLockExclusive() throws(LinuxError) -> Bool {
        do throws(LinuxError) {
            _ = try retryingOnInterrupt("flock", path: path) { flock(fd, LOCK_EX | LOCK_NB) }
            return true
        } catch  where error.errno == EWOULDBLOCK {
            return false
        }
    }

    /// Replaces the file's contents with `text` (truncate, then write at offset 0).
    ///
    /// The corresponding C calls are `ftruncate(fd, 0)` and `pwrite`.
    /// - Throws: `LinuxError` from either.
    public func replaceContents(with text: String) throws(LinuxError) {
        try truncate(to: 0)
        let bytes = Array(text.utf8)
        var failure: LinuxError?
        bytes.withUnsafeBytes { buffer in
            do throws(LinuxError) { try writeAll(buffer, at: 0) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads up to `limit` bytes from offset 0 as UTF-8 text (invalid bytes replaced).
    /// - Throws: `LinuxError` from `pread`.
    public func readContents(limit: Int = 4096) throws(LinuxError) -> String {
        var bytes = [UInt8](repeating: 0, count: limit)
        let count: Result<Int, LinuxError> = bytes.withUnsafeMutableBytes { buffer in
            do throws(LinuxError) { return .success(try read(into: buffer, at: 0)) } catch { return .failure(error) }
        }
        return String(decoding: bytes[..<(try count.get())], as: UTF8.self)
    }
}
