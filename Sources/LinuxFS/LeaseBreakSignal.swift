internal import CLinux
import Glibc

/// Process-wide delivery of lease-break notifications as file descriptors.
///
/// Call ``install()`` once, then for each leased file ``OpenFile/setLeaseSignal(_:)``
/// with ``number`` before ``OpenFile/setLease(_:)``. A dedicated thread loops on
/// ``waitForBrokenDescriptor()`` and reacts to each descriptor it returns (the kernel
/// gives the holder `/proc/sys/fs/lease-break-time` seconds, 45 by default, to release).
///
/// The handler is written in C: it only `write(2)`s the delivery's `si_fd` into a
/// nonblocking pipe (notifications are dropped if 16 384 are left unread).
public enum LeaseBreakSignal {
    /// The real-time signal used for lease breaks: `SIGRTMIN + 4`.
    public static let number: Int32 = clinux_lease_break_signal()

    /// `/proc/sys/fs/lease-break-time`: how many seconds the kernel lets a lease holder take
    /// to release after a break before it removes the lease itself; `nil` if unreadable.
    public static var breakTimeSeconds: Int? {
        ProcFiles.readText("/proc/sys/fs/lease-break-time").flatMap { Int($0.filter(\.isNumber)) }
    }

    /// Installs the `SA_SIGINFO | SA_RESTART` handler for ``number`` and creates its pipe.
    /// Idempotent: later calls do nothing.
    ///
    /// The corresponding C functions are `pipe2` and `sigaction`.
    /// - Throws: `LinuxError` from `pipe2` or `sigaction`.
    public static func install() throws(LinuxError) {
        _ = try readDescriptor()
    }

    /// Blocks until a lease break is signalled and returns the leased descriptor
    /// (`si_fd`). Several threads may wait; each notification goes to one of them.
    /// Installs the handler if ``install()`` was not called; returns -1 only if that fails
    /// (or if the pipe's read end was closed by someone else).
    ///
    /// The corresponding C functions are `poll` and `read` on the handler's pipe;
    /// `EINTR` is retried.
    public static func waitForBrokenDescriptor() -> Int32 {
        guard let pipe = try? readDescriptor() else { return -1 }
        while true {
            var descriptor: Int32 = -1
            let count = withUnsafeMutableBytes(of: &descriptor) { Glibc.read(pipe, $0.baseAddress, $0.count) }
            if count == MemoryLayout<Int32>.size { return descriptor }
            // EAGAIN (empty pipe), EINTR: sleep in poll until the handler writes again.
            var request = pollfd(fd: pipe, events: Int16(POLLIN), revents: 0)
            if poll(&request, 1, -1) > 0 && request.revents & Int16(POLLNVAL | POLLHUP | POLLERR) != 0 {
                return -1  // the pipe was closed behind our back: never spin
            }
        }
    }

    private static func readDescriptor() throws(LinuxError) -> Int32 {
        var pipe: Int32 = -1
        switch clinux_install_lease_break_handler(number, &pipe) {
        case 0: return pipe
        case -1: throw LinuxError.current("pipe2")
        default: throw LinuxError.current("sigaction")
        }
    }
}
