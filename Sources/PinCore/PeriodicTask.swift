import Foundation

/// Runs `work` on a thread of its own every `interval` (measured from the end of one run to
/// the start of the next) until ``stop()``.
final class PeriodicTask: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false

    init(name: String, interval: Duration, work: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            condition.lock()
            while !stopped {
                condition.unlock()
                work()
                condition.lock()
                // Measured on the monotonic clock, waited for in slices of at most a second
                // (NSCondition waits on the wall clock, which may step).
                let next = ContinuousClock.now + interval
                while !stopped, ContinuousClock.now < next {
                    let left = next - ContinuousClock.now
                    let slice = min(1, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
                    _ = condition.wait(until: Date(timeIntervalSinceNow: slice))
                }
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
