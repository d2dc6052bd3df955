import Glibc

/// An `errno` value with a Swift name (the names of apple/swift-system's `Errno`), so that code
/// outside LinuxFS can match a ``LinuxError`` without importing Glibc:
/// `catch where error.code == .noSuchFileOrDirectory`. Only the values the daemon tells apart
/// are named; any other value is still representable through ``init(rawValue:)``.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The C value, e.g. 2 for `ENOENT`.
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The symbolic name, e.g. `"ENOENT"` (see ``LinuxError/name``).
    public var description: String {
        LinuxError(errno: rawValue, call: "").name
    }

    /// `EPERM`: operation not permitted.
    public static let notPermitted = Errno(rawValue: EPERM)
    /// `ENOENT`: no such file or directory.
    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    /// `EINTR`: interrupted by a signal.
    public static let interrupted = Errno(rawValue: EINTR)
    /// `EIO`: input/output error.
    public static let ioError = Errno(rawValue: EIO)
    /// `EBADF`: bad file descriptor.
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// `EAGAIN` (= `EWOULDBLOCK` on Linux): resource temporarily unavailable.
    public static let resourceTemporarilyUnavailable = Errno(rawValue: EAGAIN)
    /// `ENOMEM`: cannot allocate memory.
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// `EACCES`: permission denied.
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// `EFAULT`: bad address.
    public static let badAddress = Errno(rawValue: EFAULT)
    /// `EBUSY`: device or resource busy.
    public static let resourceBusy = Errno(rawValue: EBUSY)
    /// `EEXIST`: file exists.
    public static let fileExists = Errno(rawValue: EEXIST)
    /// `EXDEV`: invalid cross-device link.
    public static let improperLink = Errno(rawValue: EXDEV)
    /// `ENOTDIR`: not a directory.
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    /// `EISDIR`: is a directory.
    public static let isDirectory = Errno(rawValue: EISDIR)
    /// `EINVAL`: invalid argument.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `ENOTTY`: inappropriate ioctl for device.
    public static let inappropriateIOCTLForDevice = Errno(rawValue: ENOTTY)
    /// `EFBIG`: file too large.
    public static let fileTooLarge = Errno(rawValue: EFBIG)
    /// `ENOSPC`: no space left on device.
    public static let noSpace = Errno(rawValue: ENOSPC)
    /// `EROFS`: read-only file system.
    public static let readOnlyFileSystem = Errno(rawValue: EROFS)
    /// `EPIPE`: broken pipe.
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// `ENAMETOOLONG`: file name too long.
    public static let fileNameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// `ENOSYS`: function not implemented.
    public static let noFunction = Errno(rawValue: ENOSYS)
    /// `ELOOP`: too many levels of symbolic links (or `O_NOFOLLOW` met a symbolic link).
    public static let tooManySymbolicLinkLevels = Errno(rawValue: ELOOP)
    /// `EOPNOTSUPP` (= `ENOTSUP` on Linux): operation not supported.
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    /// `EADDRINUSE`: address already in use.
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// `EADDRNOTAVAIL`: cannot assign requested address.
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    /// `ETIMEDOUT`: connection timed out.
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// `ECONNREFUSED`: connection refused.
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// `EDQUOT`: disk quota exceeded.
    public static let diskQuotaExceeded = Errno(rawValue: EDQUOT)
}

extension LinuxError {
    /// ``errno`` as an ``Errno``, for matching without Glibc.
    public var code: Errno {
        Errno(rawValue: errno)
    }

    /// Creates an error for `call` failing with `code`.
    public init(_ code: Errno, call: String, path: String? = nil) {
        self.init(errno: code.rawValue, call: call, path: path)
    }
}
