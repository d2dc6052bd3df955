internal import CLinux
import Glibc

/// Access mode and creation flags for ``openBeneath(_:_:flags:mode:)``.
///
/// `O_CLOEXEC`, `O_NOFOLLOW` and `O_NOCTTY` are always added and need not be given.
public struct OpenFlags: OptionSet, Sendable, Hashable {
    /// The `O_*` bits passed to `openat2`.
    public let rawValue: Int32

    /// Wraps raw `O_*` bits.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// `O_RDONLY` (0): the empty set; read-only is the default access mode.
    public static let readOnly = OpenFlags([])
    /// `O_WRONLY`.
    public static let writeOnly = OpenFlags(rawValue: O_WRONLY)
    /// `O_RDWR`.
    public static let readWrite = OpenFlags(rawValue: O_RDWR)
    /// `O_CREAT`: create the file with the given mode if it does not exist.
    public static let create = OpenFlags(rawValue: O_CREAT)
    /// `O_EXCL`: with ``create``, fail with `EEXIST` if the file exists.
    public static let exclusive = OpenFlags(rawValue: O_EXCL)
    /// `O_NONBLOCK`: e.g. fail with `EAGAIN` instead of waiting for a lease break.
    public static let nonBlocking = OpenFlags(rawValue: O_NONBLOCK)
    /// `O_DIRECT`: bypass the page cache.
    public static let direct = OpenFlags(rawValue: CLINUX_O_DIRECT)
    /// `O_PATH`: a location-only descriptor (no I/O).
    public static let pathOnly = OpenFlags(rawValue: CLINUX_O_PATH)
    /// `O_DIRECTORY`: fail with `ENOTDIR` unless the path is a directory.
    public static let directory = OpenFlags(rawValue: O_DIRECTORY)
}
