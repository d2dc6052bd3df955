internal import CLinux
import Glibc

/// The service manager's notification socket (`$NOTIFY_SOCKET`, the `sd_notify(3)` protocol,
/// implemented here without libsystemd): each ``send(_:)`` is one datagram of `KEY=VALUE`
/// lines to an `AF_UNIX` datagram socket named by a path or, with a leading `@`, by an
/// abstract name.
public struct ServiceManagerSocket: Sendable, Equatable {
    /// Where the datagrams go.
    public enum Address: Sendable, Equatable {
        /// A socket file, e.g. `/run/systemd/notify`.
        case path(String)
        /// A name in the abstract namespace (`@name` in `$NOTIFY_SOCKET`; sent with a leading NUL byte).
        case abstract(String)
    }

    /// The socket datagrams are sent to.
    public let address: Address

    /// The socket named by `value`, the text of `$NOTIFY_SOCKET`: an absolute path, or `@` and
    /// an abstract name. `nil` when `value` is `nil` or empty (not started by a service manager).
    /// - Throws: `LinuxError` for `NOTIFY_SOCKET`: `EAFNOSUPPORT` for another form (a relative
    ///   path, `vsock:`…), `ENAMETOOLONG` when the name does not fit `sun_path`.
    public init?(notifySocket value: String?) throws(LinuxError) {
        guard let value, !value.isEmpty else { return nil }
        let address: Address
        if value.hasPrefix("/") {
            address = .path(value)
        } else if value.hasPrefix("@") && value.utf8.count > 1 {
            address = .abstract(String(value.dropFirst()))
        } else {
            throw LinuxError(errno: EAFNOSUPPORT, call: "NOTIFY_SOCKET", path: value)
        }
        // The same checks as at each send, so that a bad name is reported once, at start.
        _ = try Self.socketAddress(address, text: value)
        self.address = address
    }

    /// The socket of this process's `$NOTIFY_SOCKET` (see ``init(notifySocket:)``).
    public static func fromEnvironment() throws(LinuxError) -> ServiceManagerSocket? {
        try ServiceManagerSocket(notifySocket: environmentValue("NOTIFY_SOCKET"))
    }

    /// `$NOTIFY_SOCKET` as given: `@name` for an abstract name.
    public var text: String {
        switch address {
        case .path(let path): path
        case .abstract(let name): "@" + name
        }
    }

    /// Sends `notices` as one datagram (``ServiceManagerNotice/datagram(_:)``).
    ///
    /// The corresponding C functions are `socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC)` and
    /// `sendmsg(MSG_NOSIGNAL)` (`EINTR` retried), then `close`.
    /// - Throws: `LinuxError`, notably `ENOENT` or `ECONNREFUSED` when nobody listens there.
    public func send(_ notices: [ServiceManagerNotice]) throws(LinuxError) {
        let payload = Array(ServiceManagerNotice.datagram(notices).utf8)
        var target = try Self.socketAddress(address, text: text)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LinuxError.current("socket", path: text) }
        defer { _ = close(fd) }
        var bytes = payload
        let sent = withUnsafeMutablePointer(to: &target.storage) { name in
            bytes.withUnsafeMutableBytes { buffer in
                var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_name = UnsafeMutableRawPointer(name)
                    message.msg_namelen = target.length
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    return Result { () throws(LinuxError) in
                        try retryingOnInterrupt("sendmsg", path: text) { sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
                    }
                }
            }
        }
        let count = try sent.get()
        // A datagram goes whole or not at all; a short count would be a kernel bug.
        guard count == payload.count else { throw LinuxError(errno: EMSGSIZE, call: "sendmsg", path: text) }
    }

    /// The `sockaddr_un` for `address` and its length: a path ends with a NUL, an abstract name
    /// starts with one and has none at the end (its length says where it ends).
    static func socketAddress(_ address: Address, text: String) throws(LinuxError) -> (
        storage: sockaddr_un, length: socklen_t
    ) {
        let bytes: [UInt8]
        let terminator: Int
        switch address {
        case .path(let path):
            bytes = Array(path.utf8)
            terminator = 1
        case .abstract(let name):
            bytes = [0] + Array(name.utf8)
            terminator = 0
        }
        var storage = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count + terminator <= capacity else {
            throw LinuxError(errno: ENAMETOOLONG, call: "NOTIFY_SOCKET", path: text)
        }
        guard !bytes.dropFirst().contains(0) else { throw LinuxError(errno: EINVAL, call: "NOTIFY_SOCKET", path: text) }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + terminator
        return (storage, socklen_t(length))
    }
}

/// One line of the `sd_notify` protocol.
public enum ServiceManagerNotice: Sendable, Equatable {
    /// `READY=1`: startup (or a reload) finished; the service serves.
    case ready
    /// `RELOADING=1` and `MONOTONIC_USEC=`: a reload started at this `CLOCK_MONOTONIC` time
    /// (systemd 253's `Type=notify-reload` wants both; older ones read the first).
    case reloading(monotonicMicroseconds: UInt64)
    /// `STOPPING=1`: the shutdown started.
    case stopping
    /// `STATUS=`: one line of free text for `systemctl status` (line breaks become spaces).
    case status(String)
    /// `WATCHDOG=1`: the service is alive (within `WatchdogSec=`).
    case watchdog

    /// The notice's `KEY=VALUE` lines, each ending with a newline.
    public var lines: String {
        switch self {
        case .ready: "READY=1\n"
        case .reloading(let microseconds): "RELOADING=1\nMONOTONIC_USEC=\(microseconds)\n"
        case .stopping: "STOPPING=1\n"
        case .status(let text):
            "STATUS=" + String(text.map { $0.isNewline || $0 == "\0" ? " " : $0 }) + "\n"
        case .watchdog: "WATCHDOG=1\n"
        }
    }

    /// The text of one datagram carrying `notices`, in order.
    public static func datagram(_ notices: [ServiceManagerNotice]) -> String {
        notices.map(\.lines).joined()
    }

    /// A ``reloading(monotonicMicroseconds:)`` stamped with the `CLOCK_MONOTONIC` time now.
    public static func reloadingNow() -> ServiceManagerNotice {
        .reloading(monotonicMicroseconds: SystemClock.monotonicNanoseconds() / 1000)
    }
}

/// How often the service manager expects ``ServiceManagerNotice/watchdog``, from
/// `$WATCHDOG_USEC` and `$WATCHDOG_PID` (as `sd_watchdog_enabled(3)` reads them).
public enum ServiceManagerWatchdog {
    /// Half the watchdog timeout (the interval `sd_watchdog_enabled(3)` recommends), or `nil`
    /// when there is no watchdog for `pid`: `usec` absent, not a positive integer, or `watchdogPID`
    /// present and naming another process (a child that inherited the environment).
    public static func petInterval(usec: String?, watchdogPID: String?, pid: Int32) -> Duration? {
        guard let usec, let microseconds = UInt64(usec), microseconds > 0 else { return nil }
        if let watchdogPID, Int32(watchdogPID) != pid { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// ``petInterval(usec:watchdogPID:pid:)`` for this process's environment and id.
    public static func petIntervalFromEnvironment() -> Duration? {
        petInterval(
            usec: environmentValue("WATCHDOG_USEC"), watchdogPID: environmentValue("WATCHDOG_PID"), pid: getpid())
    }
}

/// The value of the environment variable `name`, or `nil` when it is not set.
///
/// The corresponding C function is `getenv`.
private func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
