import Foundation
import ServiceLifecycle

/// One thread that calls `fire` with the keys whose deadline has come, in batches (all keys
/// due at the same moment arrive in one call). Deadlines are given as wall-clock milliseconds
/// (how they are stored) and converted to the monotonic clock when set, so a clock step while
/// a timer waits does not move it. Setting a key again replaces its deadline. A service: the
/// thread runs from ``run()`` (or ``start(fire:)``) until graceful shutdown, cancellation or
/// ``stop()``; deadlines set before it runs fire once it does.
final class DeadlineTimer<Key: Hashable & Sendable>: Service, @unchecked Sendable {
    private struct Entry: Comparable {
        let due: UInt64  // monotonic nanoseconds
        let key: Key
        let generation: UInt64

        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.due < rhs.due }
        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.due == rhs.due && lhs.generation == rhs.generation }
    }

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var heap: [Entry] = []
    private var current: [Key: UInt64] = [:]
    private var generation: UInt64 = 0
    /// Heap entries whose key was set again or cancelled since (dropped when they come up, or
    /// all at once when they outnumber the live ones).
    private var stale = 0
    private var stopped = false
    private var fire: @Sendable ([Key]) -> Void = { _ in }
    private let thread: ServiceThread
    private let clock: DeadlineClock

    /// A timer that fires nothing until it runs; tests pass their own `clock`.
    init(name: String, clock: DeadlineClock = .system) {
        thread = ServiceThread(name: name)
        self.clock = clock
    }

    /// Sets what is called (on the timer's thread) with every batch of due keys; before it runs.
    func onFire(_ fire: @escaping @Sendable ([Key]) -> Void) {
        condition.lock()
        self.fire = fire
        condition.unlock()
    }

    /// Fires deadlines until graceful shutdown or cancellation; returns once the thread ended
    /// (nothing fires after that).
    func run() async throws {
        try await thread.run({ [self] in loop() }, requestStop: { [self] in requestStop() })
    }

    /// Starts the thread that calls `fire` without a service group (tests); ``stop()`` ends it.
    func start(fire: @escaping @Sendable ([Key]) -> Void) throws(CoreError) {
        onFire(fire)
        try start()
    }

    /// Starts the thread (calling what ``onFire(_:)`` set) without a service group, and without
    /// waiting for a task of the concurrency pool to start it (tests); ``stop()`` ends it.
    func start() throws(CoreError) {
        try thread.start { [self] in loop() }
    }

    /// Fires `key` at `wallMilliseconds` (at once if that has passed).
    func set(_ key: Key, at wallMilliseconds: Int64) {
        let delay = max(0, wallMilliseconds - clock.wallMilliseconds())
        let due = clock.monotonicNanoseconds() + UInt64(delay) * 1_000_000
        condition.lock()
        generation += 1
        if current.updateValue(generation, forKey: key) != nil { stale += 1 }
        let earliest = heap.first.map { due < $0.due } ?? true
        push(Entry(due: due, key: key, generation: generation))
        compactIfStale()
        // The thread only needs waking when it sleeps past the new deadline.
        if earliest { condition.signal() }
        condition.unlock()
    }

    func cancel(_ key: Key) {
        condition.lock()
        if current.removeValue(forKey: key) != nil {
            stale += 1
            compactIfStale()
        }
        condition.unlock()
    }

    /// Drops the stale entries once they outnumber the live ones (keeps memory bounded by the
    /// live timers, however many are set and cancelled).
    private func compactIfStale() {
        guard stale > 1024, stale > current.count else { return }
        heap = heap.filter { current[$0.key] == $0.generation }
        heap.sort()
        stale = 0
    }

    /// Ends the thread and waits for it (unless called from `fire`); nothing fires after this returns.
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
        let fire = self.fire
        while !stopped {
            let now = clock.monotonicNanoseconds()
            var due: [Key] = []
            while let first = heap.first, first.due <= now {
                let entry = pop()
                if current[entry.key] == entry.generation {
                    current[entry.key] = nil
                    due.append(entry.key)
                } else {
                    stale = max(0, stale - 1)
                }
            }
            if !due.isEmpty {
                condition.unlock()
                fire(due)
                condition.lock()
                continue
            }
            if let first = heap.first {
                // NSCondition waits on the wall clock: at most a second at a time, so a clock
                // step cannot hold a deadline back by more than that.
                let wait = min(1, Double(first.due - now) / 1e9)
                _ = condition.wait(until: Date(timeIntervalSinceNow: wait))
            } else {
                condition.wait()
            }
        }
        condition.unlock()
    }

    private func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func pop() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count && heap[left] < heap[smallest] { smallest = left }
                if right < heap.count && heap[right] < heap[smallest] { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
