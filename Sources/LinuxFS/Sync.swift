import Glibc

extension OpenFile {
    /// Makes the file's data and metadata durable: returns once they are on stable storage.
    ///
    /// The corresponding C function is `fsync`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `fsync`, e.g. `EIO` or `ENOSPC`.
    public func sync() throws(LinuxError) {
        _ = try retryingOnInterrupt("fsync", path: path) { fsync(fd) }
    }
}
