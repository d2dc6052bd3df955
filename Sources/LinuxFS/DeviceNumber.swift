/// Combines a major and minor number into a `dev_t` the way glibc's `makedev` does,
/// so the result equals `st_dev` as returned by `stat(2)`.
func makeDevice(major: UInt32, minor: UInt32) -> UInt64 {
    let major = UInt64(major)
    let minor = UInt64(minor)
    return ((major & 0x0000_0fff) << 8) | ((major & 0xffff_f000) << 32)
        | (minor & 0x0000_00ff) | ((minor & 0xffff_ff00) << 12)
}
