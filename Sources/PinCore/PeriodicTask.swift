import Foundation

/// Runs `work` on a thread of its own every `interval` (measured from the end of one run to
/// the start of the next) until ``stop()``.
final class PeriodicTask: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false

    init(name: String, interval: Duration, work: @escaping @Sendable () -> Void) {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let thread = Thread { [self] in
            condition.lock()
            while !stopped {
                condition.unlock()
                work()
                condition.lock()
                if !stopped { _ = condition.wait(until: Date(timeIntervalSinceNow: seconds)) }
            }
            condition.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Ends the loop; a run in progress finishes first (this does not wait for it).
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }
}
