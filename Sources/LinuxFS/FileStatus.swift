internal import CLinux
import Glibc

/// A snapshot of a file's metadata, taken with `statx`.
public struct FileStatus: Sendable, Equatable {
    /// The file size in bytes (`stx_size`).
    public var size: UInt64
    /// The preferred I/O block size (`stx_blksize`).
    public var blockSize: UInt32
    /// Allocated space in 512-byte units (`stx_blocks`).
    public var blocks512: UInt64
    /// The containing device as glibc's `makedev(deviceMajor, deviceMinor)`; equals `st_dev`.
    public var device: UInt64
    /// Major number of the containing device (`stx_dev_major`).
    public var deviceMajor: UInt32
    /// Minor number of the containing device (`stx_dev_minor`).
    public var deviceMinor: UInt32
    /// The inode number (`stx_ino`).
    public var inode: UInt64
    /// The full mode: type and permission bits (`stx_mode`).
    public var mode: UInt32
    /// The file type, from ``mode``.
    public var kind: FileKind
    /// The hard link count (`stx_nlink`).
    public var links: UInt32
    /// The mount ID, as in field 1 of `/proc/self/mountinfo` (`stx_mnt_id`).
    public var mountID: UInt64
    /// `STATX_ATTR_IMMUTABLE`: the inode carries the immutable flag (`chattr +i`).
    public var isImmutable: Bool
    /// `STATX_ATTR_APPEND`: the inode carries the append-only flag (`chattr +a`).
    public var isAppendOnly: Bool
    /// `STATX_ATTR_DAX`: the file is currently accessed in DAX mode.
    public var isDAX: Bool
    /// The inode change time (`stx_ctime`) in nanoseconds since the epoch.
    public var changeTimeNanoseconds: Int64

    /// Creates a status from its fields (for tests and reports; ``OpenFile/status()`` fills it from `statx`).
    public init(
        size: UInt64, blockSize: UInt32, blocks512: UInt64, device: UInt64, deviceMajor: UInt32,
        deviceMinor: UInt32, inode: UInt64, mode: UInt32, kind: FileKind, links: UInt32, mountID: UInt64,
        isImmutable: Bool, isAppendOnly: Bool, isDAX: Bool, changeTimeNanoseconds: Int64
    ) {
        self.size = size
        self.blockSize = blockSize
        self.blocks512 = blocks512
        self.device = device
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.inode = inode
        self.mode = mode
        self.kind = kind
        self.links = links
        self.mountID = mountID
        self.isImmutable = isImmutable
        self.isAppendOnly = isAppendOnly
        self.isDAX = isDAX
        self.changeTimeNanoseconds = changeTimeNanoseconds
    }
}

extension OpenFile {
    /// Returns the metadata of this open file (not of whatever its path names now).
    ///
    /// The corresponding C function is `statx`, called as
    /// `statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &buf)`.
    /// - Throws: `LinuxError` from `statx`.
    public func status() throws(LinuxError) -> FileStatus {
        var buffer = statx()
        _ = try retryingOnInterrupt("statx", path: path) {
            clinux_statx(fd, "", CLINUX_AT_EMPTY_PATH, CLINUX_STATX_BASIC_STATS | CLINUX_STATX_MNT_ID, &buffer)
        }
        return Self.fileStatus(buffer)
    }

    /// Returns the metadata of the entry `name` of this directory, not following it if it is a
    /// symlink nor triggering an automount: one system call, no descriptor. `name` is looked
    /// up as given, so callers that must stay beneath the directory pass a single component.
    ///
    /// The corresponding C function is `statx`, called as
    /// `statx(fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_MNT_ID, &buf)`.
    /// - Throws: `LinuxError` from `statx` (`ENOENT` when there is no such entry).
    public func status(ofEntry name: String) throws(LinuxError) -> FileStatus {
        var buffer = statx()
        _ = try retryingOnInterrupt("statx", path: name) {
            clinux_statx(
                fd, name, AT_SYMLINK_NOFOLLOW | CLINUX_AT_NO_AUTOMOUNT, CLINUX_STATX_BASIC_STATS | CLINUX_STATX_MNT_ID,
                &buffer)
        }
        return Self.fileStatus(buffer)
    }

    private static func fileStatus(_ buffer: statx) -> FileStatus {
        let mode = UInt32(buffer.stx_mode)
        let attributes = buffer.stx_attributes
        return FileStatus(
            size: buffer.stx_size,
            blockSize: buffer.stx_blksize,
            blocks512: buffer.stx_blocks,
            device: makeDevice(major: buffer.stx_dev_major, minor: buffer.stx_dev_minor),
            deviceMajor: buffer.stx_dev_major,
            deviceMinor: buffer.stx_dev_minor,
            inode: buffer.stx_ino,
            mode: mode,
            kind: FileKind(mode: mode),
            links: buffer.stx_nlink,
            mountID: buffer.stx_mnt_id,
            isImmutable: attributes & CLINUX_STATX_ATTR_IMMUTABLE != 0,
            isAppendOnly: attributes & CLINUX_STATX_ATTR_APPEND != 0,
            isDAX: attributes & CLINUX_STATX_ATTR_DAX != 0,
            changeTimeNanoseconds: buffer.stx_ctime.tv_sec &* 1_000_000_000 &+ Int64(buffer.stx_ctime.tv_nsec)
        )
    }
}
