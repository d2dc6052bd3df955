import LinuxFS
import Synchronization

/// Gives memory the daemon freed back to the kernel, at most once per ``interval``.
///
/// glibc keeps freed memory in its arenas, and gives it back on its own only when it lies at
/// the top of an arena. Under load, long-lived records (leases, events) are allocated between
/// short-lived request buffers, so after a burst (1,000 connections, a full listing of 100k
/// leases, 100k leases ending at once) tens of MiB stay resident though free (issue 12: about
/// half of the RssAnon after a 1,000-connection run). ``run()`` releases them: whole free
/// pages are dropped and count in the resident set again only once reused.
package final class MemoryUpkeep: Sendable {
    /// The process's one: the allocator is shared by every thread.
    package static let process = MemoryUpkeep(interval: .seconds(10))

    /// The least time between two releases: each walks the free lists of every arena under its
    /// lock, and memory released while a load goes on is faulted back in when reused.
    package let interval: Duration
    private let release: @Sendable () -> Void
    private let last = Mutex<ContinuousClock.Instant?>(nil)
    private let releaseCount = Atomic<Int>(0)

    /// How many times ``run(now:)`` released memory so far.
    package var releases: Int { releaseCount.load(ordering: .relaxed) }

    /// - Parameter release: what gives the memory back (tests pass their own).
    package init(interval: Duration, release: @escaping @Sendable () -> Void = { Allocator.releaseFreeMemory() }) {
        self.interval = interval
        self.release = release
    }

    /// Releases the free memory if the last release is at least ``interval`` ago (or there was
    /// none); true when it did. Called from the once-a-second upkeep (checkpoint and pruning).
    @discardableResult
    package func run(now: ContinuousClock.Instant = .now) -> Bool {
        let due = last.withLock { last in
            if let previous = last, now - previous < interval { return false }
            last = now
            return true
        }
        if due {
            release()
            releaseCount.add(1, ordering: .relaxed)
        }
        return due
    }
}
