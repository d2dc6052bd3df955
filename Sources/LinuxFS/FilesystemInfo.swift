internal import CLinux
import Glibc

/// The filesystem and mount an open file lives on.
public struct FilesystemInfo: Sendable, Equatable {
    /// The superblock magic (`f_type` of `statfs`), e.g. `0xEF53` for ext2/3/4.
    public var magic: UInt64
    /// The filesystem type from `/proc/self/mountinfo`, e.g. `"ext4"`, `"xfs"`, `"btrfs"`, `"tmpfs"`.
    public var type: String
    /// Where the filesystem is mounted (unescaped), e.g. `"/mnt/data"`.
    public var mountPoint: String
    /// The mount source, e.g. `"/dev/loop0"` or `"tmpfs"`.
    public var source: String
    /// The per-mount options followed by the superblock options, comma-separated,
    /// duplicates removed, e.g. `"rw,relatime,attr2,inode64"`.
    public var options: String
    /// The filesystem block size (`f_bsize`).
    public var blockSize: UInt64
    /// Whether the mount is read-only (`ST_RDONLY` in `f_flags`).
    public var isReadOnly: Bool
    /// Bytes an unprivileged writer may still allocate (`f_bavail * f_bsize`); an estimate on
    /// copy-on-write filesystems.
    public var availableBytes: UInt64

    /// Creates a description from its fields (``OpenFile/filesystem()`` fills it from the kernel).
    public init(
        magic: UInt64, type: String, mountPoint: String, source: String, options: String, blockSize: UInt64,
        isReadOnly: Bool, availableBytes: UInt64
    ) {
        self.magic = magic
        self.type = type
        self.mountPoint = mountPoint
        self.source = source
        self.options = options
        self.blockSize = blockSize
        self.isReadOnly = isReadOnly
        self.availableBytes = availableBytes
    }
}

extension OpenFile {
    /// Describes the filesystem and mount this file lives on.
    ///
    /// The magic, block size and read-only state come from `fstatfs`; the type, mount
    /// point, source and options from the `/proc/self/mountinfo` line whose mount ID is
    /// the file's `stx_mnt_id` (see ``status()``).
    ///
    /// The corresponding C functions are `fstatfs` and `statx`.
    /// - Throws: `LinuxError` from `fstatfs` or `statx`; `ENOENT` (call
    ///   `"mountinfo"`) if no mountinfo line has the file's mount ID.
    public func filesystem() throws(LinuxError) -> FilesystemInfo {
        var buffer = statfs()
        _ = try retryingOnInterrupt("fstatfs", path: path) { fstatfs(fd, &buffer) }
        let mountID = try status().mountID
        guard let text = ProcFiles.readText("/proc/self/mountinfo") else {
            throw LinuxError(errno: ENOENT, call: "open", path: "/proc/self/mountinfo")
        }
        guard let entry = MountInfoEntry.parse(text).first(where: { $0.mountID == mountID }) else {
            throw LinuxError(errno: ENOENT, call: "mountinfo", path: path)
        }
        var seen = Set<Substring>()
        let options = (entry.mountOptions.split(separator: ",") + entry.superOptions.split(separator: ","))
            .filter { seen.insert($0).inserted }
            .joined(separator: ",")
        return FilesystemInfo(
            magic: UInt64(UInt(bitPattern: buffer.f_type)),
            type: entry.type,
            mountPoint: entry.mountPoint,
            source: entry.source,
            options: options,
            blockSize: UInt64(buffer.f_bsize),
            isReadOnly: UInt(bitPattern: buffer.f_flags) & CLINUX_ST_RDONLY != 0,
            availableBytes: UInt64(buffer.f_bavail).multipliedReportingOverflow(by: UInt64(buffer.f_bsize)).partialValue
        )
    }
}

extension OpenFile {
    /// Bytes still free on this file's filesystem, the blocks reserved for root included
    /// (`f_bfree * f_bsize`), and whether it is mounted read-only: one `fstatfs`, without the
    /// `/proc/self/mountinfo` read of ``filesystem()``. An estimate on copy-on-write filesystems.
    ///
    /// The corresponding C function is `fstatfs`.
    /// - Throws: `LinuxError` from `fstatfs`.
    public func freeSpace() throws(LinuxError) -> (freeBytes: UInt64, isReadOnly: Bool) {
        var buffer = statfs()
        _ = try retryingOnInterrupt("fstatfs", path: path) { fstatfs(fd, &buffer) }
        let free = UInt64(buffer.f_bfree).multipliedReportingOverflow(by: UInt64(buffer.f_bsize)).partialValue
        return (free, UInt(bitPattern: buffer.f_flags) & CLINUX_ST_RDONLY != 0)
    }
}
