import Glibc

/// Reading and atomically writing small files (tokens) without following symbolic links.
enum SmallFile {
    /// The contents of the regular file at `path`, which must not be larger than `limit` bytes.
    static func read(_ path: String, limit: Int) throws(SystemCallError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)
        guard fd >= 0 else { throw SystemCallError("open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCallError("fstat", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SystemCallError("open", path, errno: EINVAL) }
        guard info.st_size <= limit else { throw SystemCallError("read", path, errno: EFBIG) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var total = 0
        while total <= limit {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("read", path)
            }
            if count == 0 { break }
            total += count
        }
        guard total <= limit else { throw SystemCallError("read", path, errno: EFBIG) }
        return Array(bytes[..<total])
    }

    /// Replaces `path` with `contents`, mode 0600, via a temporary file, fsync and rename.
    static func writeAtomically(_ path: String, contents: [UInt8]) throws(SystemCallError) {
        let temporary = "\(path).tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemCallError("open", temporary) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        guard fchmod(fd, 0o600) == 0 else { throw SystemCallError("fchmod", temporary) }
        var written = 0
        while written < contents.count {
            let count = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let failure = SystemCallError("write", temporary)
                unlink(temporary)
                throw failure
            }
            written += count
        }
        guard fsync(fd) == 0 else { throw SystemCallError("fsync", temporary) }
        closed = true
        guard close(fd) == 0 else { throw SystemCallError("close", temporary) }
        guard rename(temporary, path) == 0 else {
            let failure = SystemCallError("rename", path)
            unlink(temporary)
            throw failure
        }
    }

    /// Creates `path` and its missing parents with `mode`.
    static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(SystemCallError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0 && errno != EEXIST { throw SystemCallError("mkdir", prefix) }
            prefix += "/"
        }
    }
}
