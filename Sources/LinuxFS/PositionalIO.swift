import Glibc

extension OpenFile {
    /// Reads up to `buffer.count` bytes at file offset `offset` without moving the file
    /// position. Returns the number of bytes read: fewer than requested near the end of
    /// the file (or for other short reads), 0 at or past the end.
    ///
    /// The corresponding C function is `pread`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `pread`; `EINVAL` for an offset beyond `Int64.max`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(LinuxError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        guard let start = off_t(exactly: offset) else { throw LinuxError(errno: EINVAL, call: "pread", path: path) }
        return try retryingOnInterrupt("pread", path: path) { pread(fd, base, buffer.count, start) }
    }

    /// Writes all of `bytes` at file offset `offset`, looping over short writes, without
    /// moving the file position. The data is not durable until ``sync()``.
    ///
    /// The corresponding C function is `pwrite`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `pwrite`, e.g. `ENOSPC`, or `EPERM` on ext4 after `+i`;
    ///   `EFBIG` when the range would end beyond `Int64.max`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(LinuxError) {
        guard let base = bytes.baseAddress else { return }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(bytes.count))
        guard !overflow, end <= UInt64(off_t.max) else { throw LinuxError(errno: EFBIG, call: "pwrite", path: path) }
        var written = 0
        while written < bytes.count {
            let count = try retryingOnInterrupt("pwrite", path: path) {
                pwrite(fd, base + written, bytes.count - written, off_t(offset) + off_t(written))
            }
            // pwrite never returns 0 for a non-empty regular-file write unless the device
            // is full without reporting it; treat it as ENOSPC rather than spinning.
            if count == 0 { throw LinuxError(errno: ENOSPC, call: "pwrite", path: path) }
            written += count
        }
    }
}
