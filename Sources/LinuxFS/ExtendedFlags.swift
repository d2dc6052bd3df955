internal import CLinux

/// `FS_XFLAG_REALTIME` (0x1) in ``OpenFile/extendedFlags()``: the file's data lives on
/// the XFS realtime device, not on the device FIEMAP physical offsets refer to.
public let extendedFlagRealtime: UInt32 = CLINUX_FS_XFLAG_REALTIME

extension OpenFile {
    /// Returns the inode's extended flags (`fsx_xflags`, `FS_XFLAG_*` in `<linux/fs.h>`),
    /// e.g. ``extendedFlagRealtime``.
    ///
    /// The corresponding C call is `ioctl(fd, FS_IOC_FSGETXATTR, &fsxattr)`.
    /// - Throws: `LinuxError` from `ioctl`; `ENOTTY` or `EOPNOTSUPP` where unsupported.
    public func extendedFlags() throws(LinuxError) -> UInt32 {
        var flags: UInt32 = 0
        _ = try retryingOnInterrupt("ioctl(FS_IOC_FSGETXATTR)", path: path) { clinux_get_xflags(fd, &flags) }
        return flags
    }
}
