import Glibc

/// The type of a file, from the `S_IFMT` bits of its mode.
public enum FileKind: String, Sendable {
    case regular
    case directory
    case characterDevice = "character-device"
    case blockDevice = "block-device"
    case fifo
    case socket
    case symlink
    case unknown

    /// The kind encoded in the `S_IFMT` bits of `mode` (`st_mode` / `stx_mode`).
    public init(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): self = .regular
        case UInt32(S_IFDIR): self = .directory
        case UInt32(S_IFCHR): self = .characterDevice
        case UInt32(S_IFBLK): self = .blockDevice
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFLNK): self = .symlink
        default: self = .unknown
        }
    }
}
