import Glibc

/// A bound, listening stream socket whose descriptor is closed only by ``close()``: for handing
/// it to a library that may take it over (libmicrohttpd's `MHD_OPTION_LISTEN_SOCKET`). Created
/// `SOCK_CLOEXEC`. ``UnixSocket/listen(path:mode:backlog:)`` is the owning variant.
public struct ListeningSocket: Sendable {
    /// The descriptor; the caller closes it (``close()``) or hands it on.
    public let fd: Int32
    /// For logs: `127.0.0.1:8470`, `[::1]:8470` or `unix:/run/pinlease.sock`.
    public let address: String
    /// The socket file this socket listens on (a Unix socket); `nil` for TCP.
    public let unixPath: String?

    /// The longest path a Unix socket file can have: 107 bytes (`sun_path` of `sockaddr_un`).
    public static let maximumUnixPathLength = UnixAddress.maximumPathLength

    /// Binds a TCP socket to `address` and listens on it; `SO_REUSEADDR` is set, and `IPV6_V6ONLY`
    /// for IPv6, so that an IPv4 and an IPv6 listener on one port do not collide.
    ///
    /// The corresponding C functions are `socket(SOCK_STREAM | SOCK_CLOEXEC)`, `setsockopt`, `bind`
    /// and `listen`; ``address`` comes from `getsockname` (the real port when 0 was asked for).
    /// - Parameter name: how errors (and ``address``, if `getsockname` fails) name the address;
    ///   by default its numeric form.
    /// - Throws: `LinuxError` from the failing call, e.g. `EADDRINUSE` from `bind`.
    public static func tcp(
        _ address: SocketAddress, name: String? = nil, backlog: Int32 = SOMAXCONN, nonBlocking: Bool = false
    ) throws(LinuxError) -> ListeningSocket {
        let subject = name ?? address.description
        let fd = try openSocket(family: address.family, nonBlocking: nonBlocking, subject: subject)
        do throws(LinuxError) {
            try enable(fd, SOL_SOCKET, SO_REUSEADDR, subject: subject)
            if address.family == AF_INET6 { try enable(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, subject: subject) }
            _ = try retryingOnInterrupt("bind", path: subject) { address.withPointer { bind(fd, $0, $1) } }
            _ = try retryingOnInterrupt("listen", path: subject) { Glibc.listen(fd, backlog) }
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        return ListeningSocket(fd: fd, address: SocketAddress.bound(to: fd)?.description ?? subject, unixPath: nil)
    }

    /// Binds a Unix socket to a new socket file at `path`, gives the file `mode` (before any
    /// connection can be accepted) and listens. The caller removes the file when done
    /// (``close()`` or ``removeSocketFile()``).
    ///
    /// An existing socket file is replaced only when it is stale: nothing accepts connections on
    /// it (`connect` is refused). A live one is `EADDRINUSE`, any other kind of file `EEXIST`
    /// (both with call `bind`).
    ///
    /// The corresponding C functions are `lstat`, `connect` (non-blocking probe), `unlink`,
    /// `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`, `bind`, `chmod` and `listen`.
    /// - Throws: `LinuxError`: `ENAMETOOLONG` when `path` is longer than ``maximumUnixPathLength``,
    ///   `EINVAL` for an empty path, `EADDRINUSE`, `EEXIST`, or the failing call's errno.
    public static func unix(
        path: String, mode: UInt32, backlog: Int32 = SOMAXCONN, nonBlocking: Bool = false
    ) throws(LinuxError) -> ListeningSocket {
        let address = try UnixAddress(path, call: "bind")
        try removeStaleSocketFile(path, address: address)
        let fd = try openSocket(family: AF_UNIX, nonBlocking: nonBlocking, subject: path)
        do throws(LinuxError) {
            _ = try retryingOnInterrupt("bind", path: path) { address.withPointer { bind(fd, $0, $1) } }
            do throws(LinuxError) {
                _ = try retryingOnInterrupt("chmod", path: path) { chmod(path, mode_t(mode)) }
                _ = try retryingOnInterrupt("listen", path: path) { Glibc.listen(fd, backlog) }
            } catch {
                unlink(path)
                throw error
            }
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
        return ListeningSocket(fd: fd, address: "unix:\(path)", unixPath: path)
    }

    /// Closes the socket and removes its socket file.
    ///
    /// The corresponding C functions are `close` (never retried: on Linux the descriptor is gone
    /// even on `EINTR`) and `unlink`.
    public func close() {
        _ = Glibc.close(fd)
        removeSocketFile()
    }

    /// Removes the socket file (for a socket whose descriptor someone else closes); errors are
    /// ignored. Nothing for TCP.
    ///
    /// The corresponding C function is `unlink`.
    public func removeSocketFile() {
        if let unixPath { unlink(unixPath) }
    }

    private static func openSocket(family: Int32, nonBlocking: Bool, subject: String) throws(LinuxError) -> Int32 {
        let type = SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | (nonBlocking ? SOCK_NONBLOCK.rawValue : 0)
        let fd = socket(family, Int32(type), 0)
        guard fd >= 0 else { throw LinuxError.current("socket", path: subject) }
        return fd
    }

    private static func enable(_ fd: Int32, _ level: Int32, _ option: Int32, subject: String) throws(LinuxError) {
        var on: Int32 = 1
        _ = try retryingOnInterrupt("setsockopt", path: subject) {
            setsockopt(fd, level, option, &on, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Unlinks `path` when it is a socket file that refuses connections; see ``unix(path:mode:backlog:nonBlocking:)``.
    private static func removeStaleSocketFile(_ path: String, address: UnixAddress) throws(LinuxError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // absent (or unreadable: bind reports it)
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw LinuxError(errno: EEXIST, call: "bind", path: path) }
        let probe = try openSocket(family: AF_UNIX, nonBlocking: true, subject: path)
        defer { _ = Glibc.close(probe) }
        let code = address.withPointer { Glibc.connect(probe, $0, $1) == 0 ? 0 : errno }
        switch code {
        case 0, EAGAIN:  // accepted, or a listener whose backlog is full
            throw LinuxError(errno: EADDRINUSE, call: "bind", path: path)
        case ECONNREFUSED:
            guard unlink(path) == 0 || errno == ENOENT else { throw LinuxError.current("unlink", path: path) }
        case ENOENT:
            return
        default:
            throw LinuxError(errno: code, call: "connect", path: path)
        }
    }
}

/// Shuts the connected socket `fd` down both ways without closing it: for a descriptor another
/// library owns (a libmicrohttpd connection), which then sees the end of the stream and closes it.
/// Threads blocked on it wake up. Errors (`ENOTCONN`, `EBADF`) are ignored.
///
/// The corresponding C function is `shutdown(fd, SHUT_RDWR)`.
public func shutdownSocket(_ fd: Int32) {
    _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
}
