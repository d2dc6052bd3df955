internal import CLinux
import Glibc

/// A failed Linux system call: the `errno` it set, the call's name and, when
/// there is one, the path it was working on.
///
/// The description reads like `openat2(a/b.bin): No such file or directory (ENOENT)`.
public struct LinuxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `errno` value the call failed with, e.g. `ENOENT`.
    public let errno: Int32
    /// The name of the failing call, e.g. `"openat2"` or `"ioctl(FS_IOC_FIEMAP)"`.
    public let call: String
    /// The path the call was about, for messages only (`nil` when there is none).
    public let path: String?

    /// Creates an error for `call` failing with `errno`.
    public init(errno: Int32, call: String, path: String? = nil) {
        self.errno = errno
        self.call = call
        self.path = path
    }

    /// The symbolic errno name, e.g. `"ENOENT"`; `"E<number>"` when unknown.
    ///
    /// The corresponding C function is `strerrorname_np`.
    public var name: String {
        guard let name = clinux_errno_name(errno) else { return "E\(errno)" }
        return String(cString: name)
    }

    /// The English description of the errno, e.g. `"No such file or directory"`.
    ///
    /// The corresponding C function is `strerrordesc_np` (thread-safe, never localized).
    public var message: String {
        guard let text = clinux_errno_description(errno) else { return "Unknown error \(errno)" }
        return String(cString: text)
    }

    /// `call(path): message (NAME)`, or `call: message (NAME)` without a path.
    public var description: String {
        let subject = path.map { "\(call)(\($0))" } ?? call
        return "\(subject): \(message) (\(name))"
    }

    /// `call(path): message`: the ``description`` without the errno name, for the messages of the
    /// HTTP layer (listening sockets, token files), whose wording predates ``LinuxError``.
    public var briefDescription: String {
        "\(path.map { "\(call)(\($0))" } ?? call): \(message)"
    }
}

extension LinuxError {
    /// The error for `call` from the calling thread's current `errno`.
    static func current(_ call: String, path: String? = nil) -> LinuxError {
        LinuxError(errno: Glibc.errno, call: call, path: path)
    }
}
