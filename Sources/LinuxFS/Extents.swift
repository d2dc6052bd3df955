internal import CLinux
import Glibc

/// Flags of one FIEMAP extent (`fe_flags`, `FIEMAP_EXTENT_*` in `<linux/fiemap.h>`).
public struct ExtentFlags: OptionSet, Sendable, Hashable {
    /// The bits as the kernel reports and accepts them.
    public let rawValue: UInt32

    /// Wraps raw kernel bits; unknown bits are kept.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// `FIEMAP_EXTENT_LAST` (0x1): the last extent of the file (on some filesystems: of the range).
    public static let last = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_LAST)
    /// `FIEMAP_EXTENT_UNKNOWN` (0x2): the data location is not known.
    public static let unknown = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_UNKNOWN)
    /// `FIEMAP_EXTENT_DELALLOC` (0x4): delayed allocation, not yet on disk (also sets ``unknown``).
    public static let delalloc = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_DELALLOC)
    /// `FIEMAP_EXTENT_ENCODED` (0x8): not plain blocks (compressed or encrypted).
    public static let encoded = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_ENCODED)
    /// `FIEMAP_EXTENT_DATA_ENCRYPTED` (0x80): encrypted by the filesystem (also sets ``encoded``).
    public static let dataEncrypted = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_DATA_ENCRYPTED)
    /// `FIEMAP_EXTENT_NOT_ALIGNED` (0x100): offsets may not be block aligned.
    public static let notAligned = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_NOT_ALIGNED)
    /// `FIEMAP_EXTENT_DATA_INLINE` (0x200): data stored in a metadata block.
    public static let dataInline = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_DATA_INLINE)
    /// `FIEMAP_EXTENT_DATA_TAIL` (0x400): several files share the block.
    public static let dataTail = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_DATA_TAIL)
    /// `FIEMAP_EXTENT_UNWRITTEN` (0x800): allocated but not initialized (reads return zeros).
    public static let unwritten = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_UNWRITTEN)
    /// `FIEMAP_EXTENT_MERGED` (0x1000): the filesystem has no extents; blocks were merged.
    public static let merged = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_MERGED)
    /// `FIEMAP_EXTENT_SHARED` (0x2000): space shared with other files (reflink, dedupe, snapshot).
    public static let shared = ExtentFlags(rawValue: CLINUX_FIEMAP_EXTENT_SHARED)
}

/// One mapped extent of a file, as reported by FIEMAP. Holes are not extents: they
/// show up as gaps between consecutive extents.
public struct Extent: Sendable, Equatable {
    /// Byte offset in the file (`fe_logical`).
    public var logical: UInt64
    /// Byte offset on the device (`fe_physical`); meaningless with ``ExtentFlags/unknown``.
    public var physical: UInt64
    /// Length in bytes (`fe_length`).
    public var length: UInt64
    /// The extent's flags (`fe_flags`).
    public var flags: ExtentFlags

    /// The file offset just past the extent: `logical + length`.
    public var end: UInt64 { logical + length }

    /// Creates an extent from its fields (``OpenFile/extents(from:length:sync:)`` fills it from FIEMAP).
    public init(logical: UInt64, physical: UInt64, length: UInt64, flags: ExtentFlags) {
        self.logical = logical
        self.physical = physical
        self.length = length
        self.flags = flags
    }
}

/// How many extents one FS_IOC_FIEMAP call may return.
private let fiemapBatchSize = 512

extension OpenFile {
    /// Returns the extents overlapping the byte range `from ..< from + length`, in file order.
    ///
    /// Calls FIEMAP in batches of 512 extents, continuing from the end of the last
    /// returned extent, until an extent carries ``ExtentFlags/last``, a batch is empty or
    /// the range is covered. Extents are reported as the kernel gives them: the first may
    /// start before `from` and the last may end after the range. A `length` of 0 returns
    /// no extents but still reports a filesystem without FIEMAP support.
    ///
    /// The corresponding C call is `ioctl(fd, FS_IOC_FIEMAP, &fiemap)`.
    /// - Parameter sync: set `FIEMAP_FLAG_SYNC` so dirty data is written back first and
    ///   delayed allocations become real extents.
    /// - Throws: `LinuxError` with call `"ioctl(FS_IOC_FIEMAP)"`; `EOPNOTSUPP` on
    ///   filesystems without FIEMAP (tmpfs) — use ``dataSegments(size:)`` there.
    /// - Parameter batchSize: how many extents one call may return (at most 512); the result is
    ///   the same whatever it is, a smaller one only costs a call per batch and spares a larger
    ///   buffer to clear (the audit passes the count it expects).
    public func extents(
        from: UInt64 = 0, length: UInt64, sync: Bool, batchSize: Int = 512
    ) throws(LinuxError) -> [Extent] {
        let batch = min(max(1, batchSize), fiemapBatchSize)
        let headerSize = MemoryLayout<fiemap>.size
        let extentStride = MemoryLayout<fiemap_extent>.stride
        let byteCount = headerSize + batch * extentStride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: MemoryLayout<fiemap>.alignment)
        defer { buffer.deallocate() }

        let (rangeEnd, overflow) = from.addingReportingOverflow(length)
        let end = overflow ? UInt64.max : rangeEnd
        var cursor = from
        var extents: [Extent] = []
        var first = true
        repeat {
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
            let header = buffer.bindMemory(to: fiemap.self, capacity: 1)
            header.pointee.fm_start = cursor
            // A zero-length request is EINVAL; probe one byte and ask for no extents instead.
            header.pointee.fm_length = length == 0 ? 1 : end - cursor
            header.pointee.fm_flags = sync && first ? CLINUX_FIEMAP_FLAG_SYNC : 0
            header.pointee.fm_extent_count = length == 0 ? 0 : UInt32(batch)
            first = false
            _ = try retryingOnInterrupt("ioctl(FS_IOC_FIEMAP)", path: path) {
                ioctl(fd, UInt(CLINUX_FS_IOC_FIEMAP), buffer)
            }
            if length == 0 { return [] }

            let mapped = Int(header.pointee.fm_mapped_extents)
            if mapped == 0 { break }
            let records = (buffer + headerSize).bindMemory(to: fiemap_extent.self, capacity: mapped)
            var reachedLast = false
            for index in 0..<min(mapped, batch) {
                let record = records[index]
                let extent = Extent(
                    logical: record.fe_logical,
                    physical: record.fe_physical,
                    length: record.fe_length,
                    flags: ExtentFlags(rawValue: record.fe_flags)
                )
                extents.append(extent)
                if extent.flags.contains(.last) { reachedLast = true }
            }
            guard !reachedLast, let lastExtent = extents.last else { break }
            let (next, nextOverflow) = lastExtent.logical.addingReportingOverflow(lastExtent.length)
            // Stop on overflow or when the kernel made no progress (defensive).
            if nextOverflow || next <= cursor { break }
            cursor = next
        } while cursor < end
        return extents
    }
}
