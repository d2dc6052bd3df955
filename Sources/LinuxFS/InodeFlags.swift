internal import CLinux
import Glibc

/// Inode attribute flags as read and written by `FS_IOC_GETFLAGS` / `FS_IOC_SETFLAGS`
/// (the `chattr` flags, `FS_*_FL` in `<linux/fs.h>`). Bits not named here are kept as is.
public struct InodeFlags: OptionSet, Sendable, Hashable {
    /// The bits as the kernel reports and accepts them.
    public let rawValue: UInt32

    /// Wraps raw kernel bits; unknown bits are kept.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// `FS_IMMUTABLE_FL` (0x10, `chattr +i`): no new write opens, no unlink/rename/link,
    /// no metadata changes. Changing it requires `CAP_LINUX_IMMUTABLE`.
    public static let immutable = InodeFlags(rawValue: CLINUX_FS_IMMUTABLE_FL)
    /// `FS_APPEND_FL` (0x20, `chattr +a`): writes only at the end.
    public static let appendOnly = InodeFlags(rawValue: CLINUX_FS_APPEND_FL)
    /// `FS_NOCOW_FL` (0x00800000, `chattr +C`): no copy-on-write (btrfs).
    public static let noCOW = InodeFlags(rawValue: CLINUX_FS_NOCOW_FL)
    /// `FS_DAX_FL` (0x02000000, `chattr +x`): use DAX when the mount allows it.
    public static let dax = InodeFlags(rawValue: CLINUX_FS_DAX_FL)
}

extension OpenFile {
    /// Returns the inode's attribute flags.
    ///
    /// The corresponding C call is `ioctl(fd, FS_IOC_GETFLAGS, &int)`.
    /// - Throws: `LinuxError` from `ioctl`; `ENOTTY` or `EOPNOTSUPP` where unsupported.
    public func inodeFlags() throws(LinuxError) -> InodeFlags {
        var value: CInt = 0
        _ = try retryingOnInterrupt("ioctl(FS_IOC_GETFLAGS)", path: path) {
            ioctl(fd, UInt(CLINUX_FS_IOC_GETFLAGS), &value)
        }
        return InodeFlags(rawValue: UInt32(bitPattern: value))
    }

    /// Replaces the inode's attribute flags with `flags` (read them first and change only
    /// the bits you mean to). Works on a read-only descriptor.
    ///
    /// The corresponding C call is `ioctl(fd, FS_IOC_SETFLAGS, &int)`.
    /// - Throws: `LinuxError` from `ioctl`: `EPERM` without `CAP_LINUX_IMMUTABLE` for
    ///   immutable/append-only changes, `EROFS`, `EOPNOTSUPP` for unsupported bits.
    public func setInodeFlags(_ flags: InodeFlags) throws(LinuxError) {
        var value = CInt(bitPattern: flags.rawValue)
        _ = try retryingOnInterrupt("ioctl(FS_IOC_SETFLAGS)", path: path) {
            ioctl(fd, UInt(CLINUX_FS_IOC_SETFLAGS), &value)
        }
    }
}
