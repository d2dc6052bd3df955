import Glibc

extension OpenFile {
    /// Sets the file size to `size`, dropping data past it or extending it with a hole.
    ///
    /// The corresponding C function is `ftruncate`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `ftruncate`, e.g. `EINVAL` (not open for writing,
    ///   or `size` beyond `Int64.max`), `EPERM` (ext4 immutable), `ETXTBSY` (swapfile).
    public func truncate(to size: UInt64) throws(LinuxError) {
        guard size <= UInt64(Int64.max) else { throw LinuxError(errno: EINVAL, call: "ftruncate", path: path) }
        _ = try retryingOnInterrupt("ftruncate", path: path) { ftruncate(fd, off_t(size)) }
    }
}
