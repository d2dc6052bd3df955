import Glibc

/// Reading and atomically replacing small files the daemon owns (tokens) by path, never
/// following a symbolic link in the last component. Errors name the C call and the path.
public enum SmallFile {
    /// The contents of the regular file at `path`, which must not be larger than `limit` bytes.
    /// Files that report a size of 0 but have contents (`/proc`) are read to their end as well.
    ///
    /// The corresponding C calls are `open(O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)`, `fstat`
    /// and `read`; `EINTR` is retried.
    /// - Throws: `LinuxError`: `EINVAL` (call `open`) when `path` is not a regular file, `EFBIG`
    ///   (call `read`) when it holds more than `limit` bytes, `ELOOP` for a symbolic link, or the
    ///   failing call's errno.
    public static func read(_ path: String, limit: Int) throws(LinuxError) -> [UInt8] {
        let fd = try retryingOnInterrupt("open", path: path) {
            open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)
        }
        defer { _ = close(fd) }
        var info = stat()
        _ = try retryingOnInterrupt("fstat", path: path) { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw LinuxError(errno: EINVAL, call: "open", path: path) }
        guard info.st_size <= limit else { throw LinuxError(errno: EFBIG, call: "read", path: path) }
        // One byte more than the limit, to tell a file of exactly `limit` bytes from a longer one.
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var total = 0
        while total <= limit {
            let count = try retryingOnInterrupt("read", path: path) {
                bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            }
            if count == 0 { break }
            total += count
        }
        guard total <= limit else { throw LinuxError(errno: EFBIG, call: "read", path: path) }
        return Array(bytes[..<total])
    }

    /// Replaces `path` with a file of mode 0600 holding `contents`: written to `<path>.tmp.<pid>`,
    /// made durable, then renamed over `path`, so a reader sees the old or the new contents,
    /// never a part. The temporary file is removed when writing or renaming fails.
    ///
    /// The corresponding C calls are `open(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW)`,
    /// `fchmod`, `write`, `fsync`, `close` and `rename`; `EINTR` is retried (except by `close`).
    /// - Throws: `LinuxError` from the failing call.
    public static func writeAtomically(_ path: String, contents: [UInt8]) throws(LinuxError) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = try retryingOnInterrupt("open", path: temporary) {
            open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        var closed = false
        defer {
            if !closed { _ = close(fd) }
        }
        _ = try retryingOnInterrupt("fchmod", path: temporary) { fchmod(fd, 0o600) }
        var written = 0
        while written < contents.count {
            do throws(LinuxError) {
                written += try retryingOnInterrupt("write", path: temporary) {
                    contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
                }
            } catch {
                unlink(temporary)
                throw error
            }
        }
        _ = try retryingOnInterrupt("fsync", path: temporary) { fsync(fd) }
        closed = true
        // Never retried: on Linux the descriptor is released even when close fails.
        guard close(fd) == 0 else { throw LinuxError.current("close", path: temporary) }
        do throws(LinuxError) {
            _ = try retryingOnInterrupt("rename", path: path) { rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Creates the directory `path` and its missing parents with `mode` (directories that exist
    /// are left as they are).
    ///
    /// The corresponding C function is `mkdir`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `mkdir` for anything but `EEXIST`, naming the failing prefix.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o700) throws(LinuxError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            do throws(LinuxError) {
                _ = try retryingOnInterrupt("mkdir", path: prefix) { mkdir(prefix, mode_t(mode)) }
            } catch  where error.errno == EEXIST {
                // Already there.
            }
            prefix += "/"
        }
    }
}
