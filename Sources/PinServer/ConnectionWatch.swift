import LinuxFS
import Synchronization

/// What the server tracks of one open connection: its socket, the moment by which it must have
/// delivered the request it is receiving (or sent the next one), and whether the current
/// request's target was refused. Created when libmicrohttpd accepts the connection and kept in
/// its socket context until MHD reports it closed.
final class ConnectionWatch: Sendable {
    /// The connection's socket; valid until MHD reports the connection closed.
    let fd: Int32
    /// Monotonic nanoseconds; 0: no deadline (a handler runs, or a response or an event stream is being sent).
    private let deadline: Atomic<Int64>
    /// Set while the connection waits for its next request after one completed (kept alive).
    private let betweenRequests = Atomic<Bool>(false)
    /// A ``RequestTarget/Part`` raw value, 0: none.
    private let refusedTargetCode = Atomic<UInt8>(0)

    init(fd: Int32, deadline: Int64) {
        self.fd = fd
        self.deadline = Atomic(deadline)
    }

    /// Sets the deadline, or keeps an earlier one, so that a request's bound counts from the
    /// first byte the connection could have sent (its accept, or the end of the previous request).
    func expect(by moment: Int64) {
        var current = deadline.load(ordering: .relaxed)
        while current == 0 || moment < current {
            let (exchanged, original) = deadline.compareExchange(expected: current, desired: moment, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Notes whether the connection is between requests; returns what it was.
    @discardableResult
    func setBetweenRequests(_ value: Bool) -> Bool {
        betweenRequests.exchange(value, ordering: .relaxed)
    }

    /// Replaces the deadline (0: none).
    func setDeadline(_ moment: Int64) {
        deadline.store(moment, ordering: .relaxed)
    }

    /// Whether a deadline is set and has passed at `now`.
    func isOverdue(now: Int64) -> Bool {
        let moment = deadline.load(ordering: .relaxed)
        return moment != 0 && moment <= now
    }

    /// Notes where the target of the request being received holds a control character (nil: nowhere).
    func setRefusedTarget(_ part: RequestTarget.Part?) {
        refusedTargetCode.store(part?.rawValue ?? 0, ordering: .relaxed)
    }

    /// Where the target of the request being received holds a control character, if it does.
    var refusedTarget: RequestTarget.Part? {
        RequestTarget.Part(rawValue: refusedTargetCode.load(ordering: .relaxed))
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: never steps with the wall clock.
enum MonotonicClock {
    static func nanoseconds() -> Int64 {
        Int64(SystemClock.monotonicNanoseconds())
    }
}
