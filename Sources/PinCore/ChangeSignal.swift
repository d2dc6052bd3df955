import Foundation

/// Lets a thread wait, up to a deadline, until a condition about state guarded elsewhere holds:
/// whoever changes that state calls ``changed()`` afterwards. The condition is evaluated
/// outside this signal's lock (it may take other locks, in any order), and a change made
/// while it is evaluated is never missed: it moves the generation the waiter compares.
package final class ChangeSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var generation: UInt64 = 0  // guarded by `condition`

    package init() {}

    /// Wakes every waiter to evaluate its condition again.
    package func changed() {
        condition.lock()
        generation &+= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `holds()` is true or `deadline` (wall clock) passes; returns `holds()`.
    @discardableResult
    package func wait(until deadline: Date, for holds: () -> Bool) -> Bool {
        while true {
            let seen = condition.withLock { generation }
            if holds() { return true }
            condition.lock()
            var moved = generation != seen
            while !moved, Date() < deadline {
                _ = condition.wait(until: deadline)
                moved = generation != seen
            }
            condition.unlock()
            if !moved { return holds() }
        }
    }
}
