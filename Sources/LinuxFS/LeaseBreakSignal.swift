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
    public static func subscribe(_ handler: @escaping @Sendable (Int32) -> Void) throws(LinuxError)
        -> LeaseBreakSubscription
    {
        try install()
        return try LeaseBreakDispatch.shared.add(handler)
    }

    /// Waits until a lease break is signalled or `wake` becomes readable; returns the leased
    /// descriptor (`si_fd`), nil when woken, or -1 when the handler's pipe is unusable. Only
    /// the dispatch thread of ``subscribe(_:)`` calls it, since a notification read here is
    /// gone for everyone else.
    ///
    /// The corresponding C functions are `poll` and `read` on the handler's pipe;
    /// `EINTR` is retried.
    static func waitForBrokenDescriptor(orWake wake: Int32) -> Int32? {
        guard let pipe = try? readDescriptor() else { return -1 }
        while true {
            var descriptor: Int32 = -1
            let count = withUnsafeMutableBytes(of: &descriptor) { Glibc.read(pipe, $0.baseAddress, $0.count) }
            if count == MemoryLayout<Int32>.size { return descriptor }
            // EAGAIN (empty pipe), EINTR: sleep in poll until the handler writes again.
            var requests = [
                pollfd(fd: pipe, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&requests, 2, -1) > 0 else { continue }
            if requests[1].revents != 0 { return nil }
            if requests[0].revents & Int16(POLLNVAL | POLLHUP | POLLERR) != 0 {
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

    /// Stops the calls; one already running finishes before this returns, unless this is called
    /// from a handler. The last cancelled subscription stops the dispatch thread and joins it;
    /// breaks signalled from then on stay in the pipe for the next subscriber. Idempotent.
    public func cancel() {
        LeaseBreakDispatch.shared.remove(id)
    }
}

/// The subscribers, and the thread that reads the pipe for them while there are any (started
/// with the first one, stopped and joined with the last).
private final class LeaseBreakDispatch: Sendable {
    static let shared = LeaseBreakDispatch()

    private struct State {
        var handlers: [UInt64: @Sendable (Int32) -> Void] = [:]
        var nextID: UInt64 = 0
        var reader: Reader?
    }

    /// One dispatch thread and the pipe that wakes it to stop; each thread has its own, so a
    /// thread told to stop never takes a wake-up meant for its successor.
    private final class Reader: Sendable {
        let wakeRead: Int32
        let wakeWrite: Int32
        let thread = Mutex<JoinableThread?>(nil)
        let stopped = Atomic<Bool>(false)

        init(wakeRead: Int32, wakeWrite: Int32) {
            self.wakeRead = wakeRead
            self.wakeWrite = wakeWrite
        }

        deinit {
            close(wakeRead)
            close(wakeWrite)
        }
    }

    private let state = Mutex(State())
    /// Held while a thread is started or stopped, so that a subscriber added meanwhile finds a
    /// thread running once it returns.
    private let lifecycle = Mutex(())

    func add(_ handler: @escaping @Sendable (Int32) -> Void) throws(LinuxError) -> LeaseBreakSubscription {
        try lifecycle.withLock { _ throws(LinuxError) in
            let (id, needsReader) = state.withLock { state in
                state.nextID += 1
                state.handlers[state.nextID] = handler
                return (state.nextID, state.reader == nil)
            }
            guard needsReader else { return LeaseBreakSubscription(id: id) }
            do throws(LinuxError) {
                var fds: [Int32] = [-1, -1]
                guard pipe(&fds) == 0 else { throw LinuxError.current("pipe") }
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                let reader = Reader(wakeRead: fds[0], wakeWrite: fds[1])
                let thread = try JoinableThread.start(name: "lease-break") { [self] in run(reader) }
                reader.thread.withLock { $0 = thread }
                state.withLock { $0.reader = reader }
            } catch {
                _ = state.withLock { $0.handlers.removeValue(forKey: id) }
                throw error
            }
            return LeaseBreakSubscription(id: id)
        }
    }

    func remove(_ id: UInt64) {
        lifecycle.withLock { _ in
            let stopping = state.withLock { state -> Reader? in
                guard state.handlers.removeValue(forKey: id) != nil, state.handlers.isEmpty else { return nil }
                defer { state.reader = nil }
                return state.reader
            }
            guard let stopping else { return }
            stopping.stopped.store(true, ordering: .sequentiallyConsistent)
            var byte: UInt8 = 1
            _ = write(stopping.wakeWrite, &byte, 1)
            if let thread = stopping.thread.withLock({ $0 }), !thread.isCurrent { thread.join() }
        }
    }

    /// A break read just as the last subscriber leaves reaches no one (the read cannot be undone).
    private func run(_ reader: Reader) {
        while !reader.stopped.load(ordering: .sequentiallyConsistent) {
            guard let descriptor = LeaseBreakSignal.waitForBrokenDescriptor(orWake: reader.wakeRead), descriptor >= 0
            else { return }
            // Called outside the lock: a handler may subscribe or cancel.
            for handler in state.withLock({ Array($0.handlers.values) }) { handler(descriptor) }
        }
    }
}
