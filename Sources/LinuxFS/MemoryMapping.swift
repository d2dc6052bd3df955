internal import CLinux
import Glibc

/// A shared mapping of a byte range of a file, owned by this object: it is unmapped exactly
/// once, when the last reference goes away (which also drops any mlock on it).
///
/// The address and length never change, and every operation is a system call that is safe to
/// make from several threads at once, so the mapping may be shared between threads.
public final class MemoryMapping: @unchecked Sendable {
    /// Where the mapping starts (page-aligned).
    public let address: UnsafeMutableRawPointer
    /// The mapped length in bytes, as asked for (the kernel maps whole pages).
    public let length: Int
    /// Whether stores through the mapping are allowed (`PROT_WRITE`).
    public let isWritable: Bool
    /// Whether the mapping was made with `MAP_SYNC` (DAX only).
    public let isSynchronous: Bool
    /// The path of the mapped file, for messages only.
    public let path: String

    /// Maps `length` bytes of `file` starting at `offset` (page-aligned) with `MAP_SHARED`,
    /// or `MAP_SHARED_VALIDATE|MAP_SYNC` when `synchronous` (the kernel refuses that with
    /// `EOPNOTSUPP` unless the file is DAX). Nothing is faulted in yet: see ``lock(_:)``.
    ///
    /// The corresponding C call is `mmap(2)`.
    /// - Throws: `LinuxError` from `mmap`, e.g. `EACCES` for a writable mapping of a
    ///   descriptor not open for writing, `EOPNOTSUPP` for `MAP_SYNC` on a non-DAX file.
    public init(
        file: OpenFile, offset: UInt64, length: Int, writable: Bool, synchronous: Bool = false
    ) throws(LinuxError) {
        let protection = PROT_READ | (writable ? PROT_WRITE : 0)
        let flags = synchronous ? CLINUX_MAP_SHARED_VALIDATE | CLINUX_MAP_SYNC : MAP_SHARED
        let result = mmap(nil, length, protection, flags, file.fd, off_t(offset))
        guard let result, result != MAP_FAILED else { throw LinuxError.current("mmap", path: file.path) }
        address = result
        self.length = length
        isWritable = writable
        isSynchronous = synchronous
        path = file.path
    }

    deinit {
        _ = munmap(address, length)
    }

    /// Faults in and locks the bytes `range` of the mapping (relative to its start; the whole
    /// mapping by default) in memory, so they stay resident until ``unlock()`` or unmapping.
    ///
    /// The corresponding C call is `mlock(2)`.
    /// - Throws: `LinuxError`: `ENOMEM` past `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK`,
    ///   `EAGAIN` if some pages could not be locked.
    public func lock(_ range: Range<Int>? = nil) throws(LinuxError) {
        let range = range ?? 0..<length
        _ = try retryingOnInterrupt("mlock", path: path) { mlock(address + range.lowerBound, range.count) }
    }

    /// Unlocks the whole mapping; its pages may be reclaimed again.
    ///
    /// The corresponding C call is `munlock(2)`.
    public func unlock() throws(LinuxError) {
        _ = try retryingOnInterrupt("munlock", path: path) { munlock(address, length) }
    }

    /// How many bytes of the mapping are resident in memory now.
    ///
    /// The corresponding C call is `mincore(2)`; the last page counts only up to ``length``.
    public func residentBytes() throws(LinuxError) -> UInt64 {
        let page = pageSize
        let pages = (length + page - 1) / page
        var vector = [UInt8](repeating: 0, count: pages)
        _ = try retryingOnInterrupt("mincore", path: path) {
            vector.withUnsafeMutableBufferPointer { mincore(address, length, $0.baseAddress) }
        }
        let residentPages = vector.reduce(0) { $0 + Int($1 & 1) }
        return UInt64(min(residentPages * page, length))
    }
}
