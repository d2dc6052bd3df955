import Foundation
import Synchronization
import Testing

@testable import PinCore

@Suite struct DeadlineTimerTests {
    /// A clock only the test moves: the timer's thread sees time pass exactly when told.
    final class ManualClock: Sendable {
        private let now = Mutex((wall: Int64(1_700_000_000_000), monotonic: UInt64(5_000_000_000)))

        var wallMilliseconds: Int64 { now.withLock { $0.wall } }

        var deadlineClock: DeadlineClock {
            DeadlineClock(
                wallMilliseconds: { self.now.withLock { $0.wall } },
                monotonicNanoseconds: { self.now.withLock { $0.monotonic } })
        }

        /// Time passes: both clocks move.
        func advance(milliseconds: Int64) {
            now.withLock { now in
                now.wall += milliseconds
                now.monotonic += UInt64(milliseconds) * 1_000_000
            }
        }

        /// Someone sets the wall clock; the monotonic clock does not move.
        func stepWall(milliseconds: Int64) {
            now.withLock { $0.wall += milliseconds }
        }
    }

    /// The batches `fire` was called with, and a wait for the next one.
    final class Firings: Sendable {
        private let condition = NSCondition()
        private nonisolated(unsafe) var all: [[String]] = []  // guarded by `condition`

        func add(_ keys: [String]) {
            condition.lock()
            all.append(keys)
            condition.broadcast()
            condition.unlock()
        }

        var batches: [Set<String>] {
            condition.lock()
            defer { condition.unlock() }
            return all.map(Set.init)
        }

        /// Waits until `count` batches have fired; false after `timeout` (only a broken timer
        /// gets there: with the clock moved, the thread fires within a second).
        func wait(forBatches count: Int, timeout: Duration = .seconds(60)) -> Bool {
            let deadline = ContinuousClock.now + timeout
            condition.lock()
            defer { condition.unlock() }
            while all.count < count {
                guard ContinuousClock.now < deadline else { return false }
                _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
            }
            return true
        }
    }

    private func withTimer(
        maxBatch: Int = 4096, _ body: (DeadlineTimer<String>, ManualClock, Firings) throws -> Void
    ) throws {
        let clock = ManualClock()
        let timer = DeadlineTimer<String>(name: "test-timer", clock: clock.deadlineClock, maxBatch: maxBatch)
        let firings = Firings()
        try timer.start { firings.add($0) }
        defer { timer.stop() }
        try body(timer, clock, firings)
    }

    @Test func firesDueKeysAndHonoursReplaceAndCancel() throws {
        try withTimer { timer, clock, firings in
            let now = clock.wallMilliseconds
            timer.set("past", at: now - 1000)
            timer.set("soon", at: now + 50)
            timer.set("moved", at: now + 60)
            timer.set("moved", at: now + 10_000)  // replaced: must not fire at +60 ms
            timer.set("cancelled", at: now + 40)
            timer.cancel("cancelled")
            // The clock stands still: only the key already due can fire.
            #expect(firings.wait(forBatches: 1))
            #expect(firings.batches == [["past"]])
            // Every entry due by +100 ms is taken in one pass: a replaced or cancelled one
            // that wrongly fired would be in this batch.
            clock.advance(milliseconds: 100)
            #expect(firings.wait(forBatches: 2))
            #expect(firings.batches == [["past"], ["soon"]])
            clock.advance(milliseconds: 9_899)
            timer.set("sentinel", at: clock.wallMilliseconds)
            #expect(firings.wait(forBatches: 3))
            #expect(firings.batches.last == ["sentinel"], "moved fired 1 ms early")
            clock.advance(milliseconds: 1)
            #expect(firings.wait(forBatches: 4))
            #expect(firings.batches == [["past"], ["soon"], ["sentinel"], ["moved"]])
        }
    }

    /// More keys due at once than a batch holds come in several calls, earliest first, each
    /// key once (issue 12: 100k leases expiring together are not one transition).
    @Test func keysDueTogetherComeInBatchesOfAtMostMaxBatch() throws {
        try withTimer(maxBatch: 2) { timer, clock, firings in
            let due = clock.wallMilliseconds + 200
            for (offset, key) in ["a", "b", "c", "d", "e"].enumerated() { timer.set(key, at: due + Int64(offset)) }
            clock.advance(milliseconds: 300)
            #expect(firings.wait(forBatches: 3))
            #expect(firings.batches == [["a", "b"], ["c", "d"], ["e"]])
        }
    }

    @Test func keysDueTogetherFireInOneBatch() throws {
        try withTimer { timer, clock, firings in
            let due = clock.wallMilliseconds + 200
            for key in ["a", "b", "c"] { timer.set(key, at: due) }
            timer.set("later", at: due + 1)
            clock.advance(milliseconds: 200)
            #expect(firings.wait(forBatches: 1))
            #expect(firings.batches == [["a", "b", "c"]])
            clock.advance(milliseconds: 1)
            #expect(firings.wait(forBatches: 2))
            #expect(firings.batches == [["a", "b", "c"], ["later"]])
        }
    }

    @Test func aWallClockStepDoesNotMoveDeadlinesAlreadySet() throws {
        try withTimer { timer, clock, firings in
            timer.set("in 500 ms", at: clock.wallMilliseconds + 500)
            clock.stepWall(milliseconds: 3_600_000)  // an hour ahead: past the deadline on the wall
            timer.set("in 200 ms", at: clock.wallMilliseconds + 200)
            clock.advance(milliseconds: 300)
            #expect(firings.wait(forBatches: 1))
            #expect(firings.batches == [["in 200 ms"]])
            clock.stepWall(milliseconds: -7_200_000)  // and back two hours: no later either
            clock.advance(milliseconds: 200)
            #expect(firings.wait(forBatches: 2))
            #expect(firings.batches == [["in 200 ms"], ["in 500 ms"]])
        }
    }
}
