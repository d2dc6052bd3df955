import Foundation

/// Polls `condition` every 2 ms until it holds; false after `timeout`. For conditions another
/// thread makes true (a timer fires, a commit lands): tests wait on them, never on a fixed sleep.
public func waitUntil(timeout: Duration = .seconds(60), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        usleep(2000)
    }
    return true
}
