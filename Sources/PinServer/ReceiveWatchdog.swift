import Dispatch
import LinuxFS
import Logging
import Synchronization

/// Bounds the total time a connection may take to deliver a request (request line, headers and
/// body), which libmicrohttpd's idle timeout does not: a client trickling a header line every few
/// seconds would otherwise hold a connection forever, and enough of them fill the connection limit.
///
/// The clock of a request starts when the connection is accepted, or, on a kept-alive connection,
/// when its request line arrives (the idle timeout bounds the wait for that line), and stops
/// when the access handler has the whole request; handlers, responses and event streams are not
/// bounded. A sweep every fraction of the limit shuts down (`shutdown(2)`, not `close`) the
/// sockets of overdue connections; MHD then sees the end of the stream and closes them itself.
/// Sweeps and the removal of a closed connection take the same lock, and MHD reports a connection
/// closed before it closes its socket, so a sweep never touches a descriptor that was reused.
final class ReceiveWatchdog: Sendable {
    /// The longest a request may take to arrive, in nanoseconds.
    let receiveLimit: Int64
    /// How long a kept-alive connection may wait for its next request line (0: unbounded).
    let idleLimit: Int64
    private let logger: Logger
    private let watches = Mutex<[ObjectIdentifier: ConnectionWatch]>([:])
    private let stopped = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let thread = Mutex<JoinableThread?>(nil)
    private let running = Atomic<Bool>(false)

    init(receiveLimitSeconds: Double, idleLimitSeconds: Double, logger: Logger) {
        receiveLimit = Int64(max(0.001, receiveLimitSeconds) * 1e9)
        idleLimit = Int64(max(0, idleLimitSeconds) * 1e9)
        self.logger = logger
    }

    /// How often the connections are checked: a tenth of the limit, between 50 ms and 1 s.
    var sweepInterval: Double {
        min(1, max(0.05, Double(receiveLimit) / 1e10))
    }

    /// Starts the sweeping thread (the server's ``PinHTTPServer/start()`` does). Idempotent.
    func start() throws(HTTPServerError) {
        guard !running.exchange(true, ordering: .relaxed) else { return }
        do throws(LinuxError) {
            let started = try JoinableThread.start(name: "http-watchdog") { [self] in
                while !stopped.load(ordering: .relaxed) {
                    _ = wake.wait(timeout: .now() + sweepInterval)
                    if stopped.load(ordering: .relaxed) { break }
                    sweep()
                }
            }
            thread.withLock { $0 = started }
        } catch {
            running.store(false, ordering: .relaxed)
            throw HTTPServerError("cannot start the receive watchdog: \(error)")
        }
    }

    /// Stops the sweeping thread and joins it. Idempotent.
    func stop() {
        guard running.load(ordering: .relaxed), !stopped.exchange(true, ordering: .relaxed) else { return }
        wake.signal()
        thread.withLock { $0 }?.join()
    }

    /// A connection was accepted: its first request must arrive within the limit.
    func connectionStarted(fd: Int32) -> ConnectionWatch {
        let watch = ConnectionWatch(fd: fd, deadline: MonotonicClock.nanoseconds() + receiveLimit)
        watches.withLock { $0[ObjectIdentifier(watch)] = watch }
        return watch
    }

    /// MHD reports the connection closed (its socket is still open): it is forgotten.
    func connectionClosed(_ watch: ConnectionWatch) {
        _ = watches.withLock { $0.removeValue(forKey: ObjectIdentifier(watch)) }
    }

    /// A request line arrived: the rest of the request must follow within the limit, counted from
    /// here on a kept-alive connection, and from the accept for its first request.
    func requestStarted(_ watch: ConnectionWatch) {
        let moment = MonotonicClock.nanoseconds() + receiveLimit
        if watch.setBetweenRequests(false) {
            watch.setDeadline(moment)
        } else {
            watch.expect(by: moment)
        }
    }

    /// The access handler has the whole request (or answers before reading the body): no bound
    /// while it is handled and answered.
    func requestReceived(_ watch: ConnectionWatch) {
        watch.setDeadline(0)
    }

    /// A request completed; a kept-alive connection must send its next request line within the idle limit.
    func requestCompleted(_ watch: ConnectionWatch) {
        watch.setBetweenRequests(true)
        watch.setDeadline(idleLimit == 0 ? 0 : MonotonicClock.nanoseconds() + idleLimit)
    }

    /// Shuts down every overdue connection's socket; returns how many.
    @discardableResult
    func sweep() -> Int {
        let now = MonotonicClock.nanoseconds()
        let count = watches.withLock { watches in
            var count = 0
            for watch in watches.values where watch.isOverdue(now: now) {
                // Cleared so that the next sweep does not shut it down again before MHD notices.
                watch.setDeadline(0)
                shutdownSocket(watch.fd)
                count += 1
            }
            return count
        }
        if count > 0 {
            let seconds = Double(receiveLimit) / 1e9
            logger.notice("closed \(count) connection(s) that did not deliver a request within \(seconds)s")
        }
        return count
    }

    /// Connections being tracked.
    var connectionCount: Int {
        watches.withLock { $0.count }
    }
}
