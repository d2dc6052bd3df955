internal import CLinux
import Glibc

/// A Unix-domain stream socket owned by this object: created `SOCK_CLOEXEC` (accepted ones too),
/// closed exactly once, when the last reference goes away.
///
/// The socket is blocking; ``receive(maxBytes:timeout:)`` bounds its wait with `poll`. Sends use
/// `MSG_NOSIGNAL`, so a vanished peer is an `EPIPE` error, never a `SIGPIPE`. Another thread may
/// call ``shutdown()`` to wake a blocked ``accept()`` or receive without racing a `close`.
public final class UnixSocket: Sendable {
    /// The owned descriptor. Valid for the lifetime of this object; do not close it.
    public let fd: Int32
    /// The socket file this socket listens on, connected to or was accepted from; for messages only.
    public let path: String

    init(adopting fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        // Never retry close(2) on EINTR on Linux: the descriptor is already released.
        _ = close(fd)
    }

    /// Binds a listening socket to a new socket file at `path` and gives the file `mode`
    /// (before any connection can be accepted). The caller removes the file when done.
    ///
    /// An existing socket file is replaced only when it is stale: nothing accepts connections on
    /// it (`connect` is refused). A live one is `EADDRINUSE`, any other kind of file `EEXIST`.
    ///
    /// The corresponding C functions are `lstat`, `connect` (non-blocking probe), `unlink`,
    /// `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`, `bind`, `chmod` and `listen`.
    /// - Throws: `LinuxError`: `ENAMETOOLONG` when `path` does not fit `sun_path` (107 bytes),
    ///   `EINVAL` for an empty path, `EADDRINUSE`, `EEXIST`, or the failing call's errno.
    public static func listen(path: String, mode: UInt32, backlog: Int32 = SOMAXCONN) throws(LinuxError) -> UnixSocket {
        let address = try UnixAddress(path, call: "bind")
        try removeStaleSocketFile(path, address: address)
        let socket = try makeSocket(path: path)
        _ = try retryingOnInterrupt("bind", path: path) { address.withPointer { bind(socket.fd, $0, $1) } }
        do throws(LinuxError) {
            _ = try retryingOnInterrupt("chmod", path: path) { chmod(path, mode_t(mode)) }
            _ = try retryingOnInterrupt("listen", path: path) { Glibc.listen(socket.fd, backlog) }
        } catch {
            unlink(path)
            throw error
        }
        return socket
    }

    /// Connects to the socket listening at `path`.
    ///
    /// The corresponding C functions are `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)` and `connect`.
    /// - Throws: `LinuxError`, notably `ENOENT` (no socket file) and `ECONNREFUSED` (nobody listens).
    public static func connect(path: String) throws(LinuxError) -> UnixSocket {
        let address = try UnixAddress(path, call: "connect")
        let socket = try makeSocket(path: path)
        _ = try retryingOnInterrupt("connect", path: path) { address.withPointer { Glibc.connect(socket.fd, $0, $1) } }
        return socket
    }

    /// Waits for and returns the next connection to this listening socket.
    ///
    /// The corresponding C function is `accept4(fd, NULL, NULL, SOCK_CLOEXEC)`; `EINTR` is retried.
    /// - Throws: `LinuxError` from `accept4`; `EINVAL` once ``shutdown()`` was called.
    public func accept() throws(LinuxError) -> UnixSocket {
        let connection = try retryingOnInterrupt("accept4", path: path) { clinux_accept_cloexec(fd) }
        return UnixSocket(adopting: connection, path: path)
    }

    /// Reads one line: returns as soon as a newline arrived (nothing after it is consumed), when
    /// `maxBytes` were read without one, or at the end of the stream. The result ends with `\n`
    /// exactly when a whole line was read. Descriptors sent along are discarded by the kernel.
    ///
    /// The corresponding C functions are `poll`, `recv(MSG_PEEK)` and `recvmsg`; `EINTR` is retried.
    /// - Throws: `LinuxError` with `ETIMEDOUT` (call `poll`) when no line, limit or end of stream
    ///   came within `timeout`, or the failing call's errno.
    public func receive(maxBytes: Int, timeout: Duration) throws(LinuxError) -> [UInt8] {
        try receiveLine(maxBytes: maxBytes, timeout: timeout, keepingDescriptor: false).bytes
    }

    /// Like ``receive(maxBytes:timeout:)``, and also takes the first descriptor sent along with the
    /// bytes (`SCM_RIGHTS`, received `O_CLOEXEC`); further descriptors are closed at once.
    ///
    /// The corresponding C functions are `poll`, `recv(MSG_PEEK)` and `recvmsg(MSG_CMSG_CLOEXEC)`.
    /// - Throws: like ``receive(maxBytes:timeout:)``.
    public func receiveWithDescriptor(maxBytes: Int, timeout: Duration) throws(LinuxError) -> (bytes: [UInt8], descriptor: OpenFile?) {
        try receiveLine(maxBytes: maxBytes, timeout: timeout, keepingDescriptor: true)
    }

    /// Sends all of `bytes`; when `descriptor` is given, the kernel installs a duplicate of it
    /// in the receiving process (`SCM_RIGHTS`, attached to the first byte). This process keeps
    /// its own descriptor open.
    ///
    /// The corresponding C function is `sendmsg(MSG_NOSIGNAL)`; `EINTR` and partial sends are retried.
    /// - Precondition: `bytes` is not empty when a descriptor is sent.
    /// - Throws: `LinuxError` from `sendmsg`, notably `EPIPE` when the peer is gone.
    public func send(_ bytes: [UInt8], descriptor: Int32? = nil) throws(LinuxError) {
        precondition(descriptor == nil || !bytes.isEmpty, "a descriptor travels with at least one byte")
        var sent = 0
        var attached = descriptor ?? -1
        while sent < bytes.count {
            let count = try retryingOnInterrupt("sendmsg", path: path) {
                bytes.withUnsafeBytes { clinux_send_with_fd(fd, $0.baseAddress! + sent, $0.count - sent, attached) }
            }
            sent += count
            attached = -1
        }
    }

    /// The process on the other end, as of its `connect` (see ``PeerCredentials``).
    ///
    /// The corresponding C function is `getsockopt(SO_PEERCRED)`.
    /// - Throws: `LinuxError` from `getsockopt`.
    public func peerCredentials() throws(LinuxError) -> PeerCredentials {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        _ = try retryingOnInterrupt("getsockopt(SO_PEERCRED)", path: path) { clinux_peer_credentials(fd, &pid, &uid, &gid) }
        return PeerCredentials(pid: pid, uid: uid, gid: gid)
    }

    /// Shuts the socket down both ways without closing it, so other threads using it are safe: a
    /// blocked ``accept()`` fails with `EINVAL`, a blocked receive sees the end of the stream, and
    /// later sends fail. Errors (`ENOTCONN` for a socket that never connected) are ignored.
    ///
    /// The corresponding C function is `shutdown(fd, SHUT_RDWR)`.
    public func shutdown() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    private func receiveLine(maxBytes: Int, timeout: Duration, keepingDescriptor: Bool) throws(LinuxError) -> (bytes: [UInt8], descriptor: OpenFile?) {
        precondition(maxBytes > 0, "maxBytes must be positive")
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        var filled = 0
        var descriptor: OpenFile?
        while filled < maxBytes && (filled == 0 || buffer[filled - 1] != UInt8(ascii: "\n")) {
            try waitReadable(until: deadline)
            // Peek first, so that no byte after the newline is taken from the stream.
            let peeked = try retryingOnInterrupt("recv", path: path) {
                buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, $0.count - filled, Int32(MSG_PEEK)) }
            }
            if peeked == 0 { break }
            let wanted = buffer[filled..<filled + peeked].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 - filled } ?? peeked
            var received: Int32 = -1
            let count = try retryingOnInterrupt("recvmsg", path: path) {
                buffer.withUnsafeMutableBytes { raw in
                    keepingDescriptor
                        ? clinux_receive_with_fd(fd, raw.baseAddress! + filled, wanted, &received)
                        : clinux_receive_with_fd(fd, raw.baseAddress! + filled, wanted, nil)
                }
            }
            filled += count
            if received >= 0 {
                if descriptor == nil {
                    descriptor = OpenFile(adopting: received, path: "descriptor received on \(path)")
                } else {
                    _ = close(received)
                }
            }
        }
        return (Array(buffer[..<filled]), descriptor)
    }

    /// Returns once the socket is readable (data, end of stream or an error to collect).
    private func waitReadable(until deadline: ContinuousClock.Instant) throws(LinuxError) {
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { throw LinuxError(errno: ETIMEDOUT, call: "poll", path: path) }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = remaining >= .milliseconds(Int32.max)
                ? Int32.max : Int32(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw LinuxError.current("poll", path: path) }
        }
    }

    private static func makeSocket(path: String, nonBlocking: Bool = false) throws(LinuxError) -> UnixSocket {
        let type = SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | (nonBlocking ? SOCK_NONBLOCK.rawValue : 0)
        let fd = socket(AF_UNIX, Int32(type), 0)
        guard fd >= 0 else { throw LinuxError.current("socket", path: path) }
        return UnixSocket(adopting: fd, path: path)
    }

    /// Unlinks `path` when it is a socket file that refuses connections; see ``listen(path:mode:backlog:)``.
    private static func removeStaleSocketFile(_ path: String, address: UnixAddress) throws(LinuxError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // absent (or unreadable: bind reports it)
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw LinuxError(errno: EEXIST, call: "bind", path: path) }
        let probe = try makeSocket(path: path, nonBlocking: true)
        let code = address.withPointer { Glibc.connect(probe.fd, $0, $1) == 0 ? 0 : errno }
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

/// A `sockaddr_un` naming a socket file.
private struct UnixAddress {
    private var storage = sockaddr_un()
    private let length: socklen_t

    /// - Throws: `LinuxError` for `call`: `EINVAL` when `path` is empty or holds a NUL byte,
    ///   `ENAMETOOLONG` when it does not fit `sun_path` with its terminating NUL.
    init(_ path: String, call: String) throws(LinuxError) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else { throw LinuxError(errno: EINVAL, call: call, path: path) }
        guard bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else {
            throw LinuxError(errno: ENAMETOOLONG, call: call, path: path)
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
    }

    func withPointer<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}
