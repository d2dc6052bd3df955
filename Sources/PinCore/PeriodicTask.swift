import Foundation
import ServiceLifecycle

/// Runs `work` on a thread of its own every `interval` (measured from the end of one run to
/// the start of the next), as a service: from ``run()`` (or ``start()``) until graceful
/// shutdown, cancellation or ``stop()``.
final class PeriodicTask: Service, @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false  // guarded by `condition`
    private let interval: Duration
    private let work: @Sendable () -> Void
    private let thread: ServiceThread

    /// A task that runs nothing until ``run()`` or ``start()``.
    init(name: String, interval: Duration, work: @escaping @Sendable () -> Void) {
        self.interval = interval
        self.work = work
        thread = ServiceThread(name: name)
    }

    /// Runs the loop until graceful shutdown or cancellation; returns once its thread ended
    /// (a run of `work` in progress finishes first).
    func run() async throws {
        try await thread.run({ [self] in loop() }, requestStop: { [self] in requestStop() })
    }

    /// Ends the loop and waits for its thread (a run of `work` in progress finishes first).
    func stop() {
        requestStop()
        thread.stop()
    }

    private func requestStop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
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
}
