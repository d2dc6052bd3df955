internal import CLinux
import Glibc
import Synchronization

/// Process-wide delivery of lease-break notifications as file descriptors.
///
/// Call ``install()`` once, then for each leased file ``OpenFile/setLeaseSignal(_:)``
/// with ``number`` before ``OpenFile/setLease(_:)``, and ``subscribe(_:)`` to hear of each
/// broken descriptor (the kernel gives the holder `/proc/sys/fs/lease-break-time` seconds,
/// 45 by default, to release).
///
/// The handler is written in C: it only `write(2)`s the delivery's `si_fd` into a
/// nonblocking pipe (notifications are dropped if 16 384 are left unread). One thread reads
/// the pipe and hands every descriptor to every subscriber: the signal is process-wide, so
/// no reader may take a notification meant for another.
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

    /// Calls `handler` with every broken descriptor (`si_fd`) from now until the returned
    /// subscription is cancelled, on the one thread that reads the handler's pipe (so a slow
    /// handler delays the others). Every subscriber sees every break: a descriptor number
    /// names a file only to the code that leased it. Installs the handler first.
    /// - Throws: `LinuxError` from `pipe2`, `sigaction` or `pthread_create`.
    public static func subscribe(_ handler: @escaping @Sendable (Int32) -> Void) throws(LinuxError) -> LeaseBreakSubscription {
        try install()
        return try LeaseBreakDispatch.shared.add(handler)
    }

    /// Blocks until a lease break is signalled and returns the leased descriptor
    /// (`si_fd`); only the dispatch thread of ``subscribe(_:)`` calls it, since a
    /// notification read here is gone for everyone else.
    /// Installs the handler if ``install()`` was not called; returns -1 only if that fails
    /// (or if the pipe's read end was closed by someone else).
    ///
    /// The corresponding C functions are `poll` and `read` on the handler's pipe;
    /// `EINTR` is retried.
    static func waitForBrokenDescriptor() -> Int32 {
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

    /// The read end of the handler's pipe (created by the first call).
    static func readDescriptor() throws(LinuxError) -> Int32 {
        var pipe: Int32 = -1
        switch clinux_install_lease_break_handler(number, &pipe) {
        case 0: return pipe
        case -1: throw LinuxError.current("pipe2")
        default: throw LinuxError.current("sigaction")
        }
    }
}

/// A registration made by ``LeaseBreakSignal/subscribe(_:)``.
public final class LeaseBreakSubscription: Sendable {
    private let id: UInt64

    fileprivate init(id: UInt64) {
        self.id = id
    }

    /// Stops the calls; one already running may still finish after this returns. Idempotent.
    public func cancel() {
        LeaseBreakDispatch.shared.remove(id)
    }
}

/// The subscribers, and the thread (started with the first one) that reads the pipe for them.
private final class LeaseBreakDispatch: Sendable {
    static let shared = LeaseBreakDispatch()

    private struct State {
        var handlers: [UInt64: @Sendable (Int32) -> Void] = [:]
        var nextID: UInt64 = 0
        var started = false
    }

    private let state = Mutex(State())

    func add(_ handler: @escaping @Sendable (Int32) -> Void) throws(LinuxError) -> LeaseBreakSubscription {
        let (id, start) = state.withLock { state in
            state.nextID += 1
            state.handlers[state.nextID] = handler
            defer { state.started = true }
            return (state.nextID, !state.started)
        }
        if start {
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, { _ in
                clinux_name_this_thread("lease-break")
                LeaseBreakDispatch.shared.run()
                return nil
            }, nil)
            guard result == 0 else {
                state.withLock { state in
                    state.handlers[id] = nil
                    state.started = false
                }
                throw LinuxError(errno: result, call: "pthread_create", path: nil)
            }
            pthread_detach(thread)
        }
        return LeaseBreakSubscription(id: id)
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.handlers.removeValue(forKey: id) }
    }

    private func run() {
        while true {
            let descriptor = LeaseBreakSignal.waitForBrokenDescriptor()
            guard descriptor >= 0 else { return }
            // Called outside the lock: a handler may subscribe or cancel.
            for handler in state.withLock({ Array($0.handlers.values) }) { handler(descriptor) }
        }
    }
}
