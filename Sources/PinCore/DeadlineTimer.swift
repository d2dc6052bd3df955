import Foundation
import ServiceLifecycle

/// One thread that calls `fire` with the keys whose deadline has come, in batches (all keys
/// due at the same moment arrive in one call, unless more than `maxBatch`). Deadlines are
/// given as wall-clock milliseconds (how they are stored) and converted to the monotonic
/// clock when set, so a clock step while
/// a timer waits does not move it. Setting a key again replaces its deadline. A service: the
/// thread runs from ``run()`` (or ``start(fire:)``) until graceful shutdown, cancellation or
/// ``stop()``; deadlines set before it runs fire once it does.
final class DeadlineTimer<Key: Hashable & Sendable>: Service, @unchecked Sendable {
    /// A heap entry: plain numbers, so the heap moves no reference counts (the key of a live
    /// entry is in `keys`, under its generation).
    private struct Entry {
        let due: UInt64  // monotonic nanoseconds
        let generation: UInt64
    }

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var heap: [Entry] = []
    /// The generation each key is set under now.
    private var current: [Key: UInt64] = [:]
    /// The key of each live heap entry, by generation: entries whose key was set again or
    /// cancelled since have none (they are dropped when they come up, or all at once when
    /// they outnumber the live ones).
    private var keys: [UInt64: Key] = [:]
    private var generation: UInt64 = 0
    private var stopped = false
    private var fire: @Sendable ([Key]) -> Void = { _ in }
    private let thread: ServiceThread
    private let clock: DeadlineClock
    /// The most keys one call of `fire` gets: more due at once come in several calls, one
    /// after the other, so what `fire` builds for a batch (and holds its locks for) is bounded.
    /// Unbounded by default: bounding the lease timers (4,096 or 32,768 keys) made 100k leases
    /// due at once take 1.5-2x the CPU and wall time, the pruning of ended leases then running
    /// between the batches (bench/README.md, "Scale of state"), for about 100 MiB less peak RSS.
    let maxBatch: Int

    /// A timer that fires nothing until it runs; tests pass their own `clock`.
    init(name: String, clock: DeadlineClock = .system, maxBatch: Int = .max) {
        thread = ServiceThread(name: name)
        self.clock = clock
        self.maxBatch = max(1, maxBatch)
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
        apply([(key, wallMilliseconds)])
    }

    func cancel(_ key: Key) {
        apply([(key, nil)])
    }

    /// Sets (a wall-clock time in milliseconds) or cancels (`nil`) each key in order, under one
    /// lock: as many ``set(_:at:)`` and ``cancel(_:)`` calls, without taking it for each.
    func apply(_ changes: [(Key, Int64?)]) {
        guard !changes.isEmpty else { return }
        let wallNow = clock.wallMilliseconds()
        let monotonicNow = clock.monotonicNanoseconds()
        condition.lock()
        let earliestBefore = heap.first?.due
        for (key, wallMilliseconds) in changes {
            if let old = current.removeValue(forKey: key) { keys[old] = nil }
            guard let wallMilliseconds else { continue }
            generation += 1
            current[key] = generation
            keys[generation] = key
            push(
                Entry(
                    due: monotonicNow + UInt64(max(0, wallMilliseconds - wallNow)) * 1_000_000, generation: generation))
        }
        compactIfStale()
        // The thread only needs waking when it sleeps past the new earliest deadline.
        if let first = heap.first?.due, earliestBefore.map({ first < $0 }) ?? true { condition.signal() }
        condition.unlock()
    }

    /// Drops the stale entries once they outnumber the live ones (keeps memory bounded by the
    /// live timers, however many are set and cancelled).
    private func compactIfStale() {
        let stale = heap.count - keys.count
        guard stale > 1024, stale > keys.count else { return }
        heap.removeAll { keys[$0.generation] == nil }
        heap.sort { $0.due < $1.due }  // a sorted array is a heap
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
            while let first = heap.first, first.due <= now, due.count < maxBatch {
                let entry = pop()
                if let key = keys.removeValue(forKey: entry.generation) {
                    current[key] = nil
                    due.append(key)
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
            guard entry.due < heap[parent].due else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = entry
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
                if left < heap.count && heap[left].due < heap[smallest].due { smallest = left }
                if right < heap.count && heap[right].due < heap[smallest].due { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
