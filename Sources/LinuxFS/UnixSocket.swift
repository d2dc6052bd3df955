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
    /// An existing socket file is replaced only when it is stale, as
    /// ``ListeningSocket/unix(path:mode:backlog:nonBlocking:)`` describes (this is that socket,
    /// blocking, owned by the returned object).
    /// - Throws: `LinuxError`: `ENAMETOOLONG` when `path` does not fit `sun_path` (107 bytes),
    ///   `EINVAL` for an empty path, `EADDRINUSE`, `EEXIST`, or the failing call's errno.
    public static func listen(path: String, mode: UInt32, backlog: Int32 = SOMAXCONN) throws(LinuxError) -> UnixSocket {
        let listening = try ListeningSocket.unix(path: path, mode: mode, backlog: backlog)
        return UnixSocket(adopting: listening.fd, path: path)
    }

    /// Removes the socket file at ``path`` (for the listening socket that created it); errors are
    /// ignored. The socket itself stays open.
    ///
    /// The corresponding C function is `unlink`.
    public func removeSocketFile() {
        unlink(path)
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
    public func receiveWithDescriptor(maxBytes: Int, timeout: Duration) throws(LinuxError) -> (
        bytes: [UInt8], descriptor: OpenFile?
    ) {
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
        _ = try retryingOnInterrupt("getsockopt(SO_PEERCRED)", path: path) {
            clinux_peer_credentials(fd, &pid, &uid, &gid)
        }
        return PeerCredentials(pid: pid, uid: uid, gid: gid)
    }

    /// Shuts the socket down both ways without closing it, so other threads using it are safe: a
    /// blocked ``accept()`` fails with `EINVAL`, a blocked receive sees the end of the stream, and
    /// later sends fail. Errors (`ENOTCONN` for a socket that never connected) are ignored.
    ///
    /// The corresponding C function is `shutdown(fd, SHUT_RDWR)`.
    public func shutdown() {
        shutdownSocket(fd)
    }

    private func receiveLine(maxBytes: Int, timeout: Duration, keepingDescriptor: Bool) throws(LinuxError) -> (
        bytes: [UInt8], descriptor: OpenFile?
    ) {
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
            let wanted =
                buffer[filled..<filled + peeked].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 - filled } ?? peeked
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
            let milliseconds =
                remaining >= .milliseconds(Int32.max)
                ? Int32.max : Int32(seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw LinuxError.current("poll", path: path) }
        }
    }

    private static func makeSocket(path: String) throws(LinuxError) -> UnixSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LinuxError.current("socket", path: path) }
        return UnixSocket(adopting: fd, path: path)
    }
}
