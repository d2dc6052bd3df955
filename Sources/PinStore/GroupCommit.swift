import CoreMetrics
import Dispatch
import Foundation
import PinCore

/// Makes many callers' writes durable together: the callers' `work` runs in one shared
/// transaction and one fsync covers the whole batch. A caller returns only after its work is on
/// disk. If a write fails, the batch is rolled back and its writes are committed again one by
/// one, so that only the failing write fails.
///
/// There is no thread of its own: the first waiting caller to find no commit running becomes
/// the leader, commits everything pending (its own work and whatever arrived meanwhile), runs
/// the batch's `afterCommit` actions in submission order, wakes every caller waiting on a
/// write of that batch (a ticket may have several waiters), and hands the lead to the oldest
/// pending write that somebody waits for. Under load every fsync carries as many writes as
/// arrived during the previous one. Writes commit in the order they were enqueued, so a caller
/// that enqueues under its own lock gets its changes (and their after-commit actions) applied
/// in the same order as its in-memory changes; a ``barrier()`` taken under that lock is done
/// once every write queued before it is durable.
final class GroupCommit: @unchecked Sendable {
    /// One submitted write. `afterCommit` runs (on the leader's thread, in submission order)
    /// only if the write was committed; it must not block.
    private struct Write {
        /// `nil` for a barrier: nothing to write, done once the writes before it are.
        let work: ((SQLiteDatabase) throws(CoreError) -> Void)?
        let afterCommit: (@Sendable () -> Void)?
        let ticket: Ticket
    }

    /// A write that was enqueued; ``wait(_:)`` for it.
    final class Ticket: @unchecked Sendable {
        // Guarded by the commit's lock.
        fileprivate var done = false
        fileprivate var error: CoreError?
        /// Callers inside ``wait(_:)`` for this ticket (each is woken once per signal it needs).
        fileprivate var waiters = 0
        /// Signalled once per waiter when the write is done, and once when a waiter should
        /// take the lead. A surplus signal only makes a waiter look again.
        fileprivate let wake = DispatchSemaphore(value: 0)
    }

    private let database: SQLiteDatabase
    private let metrics: CommitMetrics
    private let lock = NSLock()
    // Guarded by `lock`.
    private var pending: [Write] = []
    private var committing = false

    /// Takes ownership of `database`: from now on only this object uses it.
    init(database: SQLiteDatabase, metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.database = database
        self.metrics = CommitMetrics(factory: metrics)
    }

    /// Runs `work` in the next batch and returns once it is durable.
    /// - Throws: the error `work` threw, or the commit's error (then nothing of the batch was written).
    func submit(
        _ work: @escaping (SQLiteDatabase) throws(CoreError) -> Void, afterCommit: (@Sendable () -> Void)? = nil
    ) throws(CoreError) {
        try wait(enqueue(work, afterCommit: afterCommit))
    }

    /// Queues `work` for the next batch without waiting (cheap: callable under the caller's locks).
    func enqueue(
        _ work: @escaping (SQLiteDatabase) throws(CoreError) -> Void, afterCommit: (@Sendable () -> Void)? = nil
    ) -> Ticket {
        let ticket = Ticket()
        lock.lock()
        pending.append(Write(work: work, afterCommit: afterCommit, ticket: ticket))
        lock.unlock()
        return ticket
    }

    /// A ticket that is done once every write enqueued before it is durable, or `nil` when
    /// they all are already. It writes nothing: a change that wrote nothing waits for it
    /// before answering with state that earlier writes made, so it never waits on (or is
    /// woken by) a ticket of another caller.
    func barrier() -> Ticket? {
        lock.lock()
        defer { lock.unlock() }
        guard committing || !pending.isEmpty else { return nil }
        let ticket = Ticket()
        pending.append(Write(work: nil, afterCommit: nil, ticket: ticket))
        return ticket
    }

    /// How many callers are inside ``wait(_:)`` for `ticket` (for tests and diagnostics).
    func waiterCount(_ ticket: Ticket) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return ticket.waiters
    }

    /// Returns once the ticket's write is durable (committing it, and whatever else is
    /// pending, if no commit is running).
    /// - Throws: the error its work threw, or the commit's error.
    func wait(_ ticket: Ticket) throws(CoreError) {
        lock.lock()
        ticket.waiters += 1
        while !ticket.done {
            guard !committing, !pending.isEmpty else {
                lock.unlock()
                ticket.wake.wait()
                lock.lock()
                continue
            }
            committing = true
            let batch = pending
            pending = []
            lock.unlock()
            let (errors, actions) = commit(batch)
            for action in actions { action() }
            lock.lock()
            for (write, error) in zip(batch, errors) {
                write.ticket.error = error
                write.ticket.done = true
                // Every waiter but this leader sleeps (or is about to) on the semaphore.
                let sleepers = write.ticket.waiters - (write.ticket === ticket ? 1 : 0)
                for _ in 0..<sleepers { write.ticket.wake.signal() }
            }
            committing = false
            // The next leader: a waiter of the oldest pending write anyone waits for. If nobody
            // waits yet, the next caller of `wait` finds no commit running and leads.
            pending.first { $0.ticket.waiters > 0 }?.ticket.wake.signal()
        }
        ticket.waiters -= 1
        let error = ticket.error
        lock.unlock()
        if let error { throw error }
    }

    /// Commits one batch and returns each write's error and the after-commit actions of the
    /// writes that were committed.
    private func commit(_ batch: [Write]) -> ([CoreError?], [@Sendable () -> Void]) {
        var errors = [CoreError?](repeating: nil, count: batch.count)
        let writes = batch.indices.compactMap { index in batch[index].work.map { (index, $0) } }
        guard !writes.isEmpty else { return (errors, []) }  // only barriers
        let started = ContinuousClock.now
        do throws(CoreError) {
            try database.transaction { () throws(CoreError) in
                for (_, work) in writes { try work(database) }
            }
            metrics.record(writes: writes.count, elapsed: ContinuousClock.now - started, ok: true)
        } catch {
            metrics.record(writes: writes.count, elapsed: ContinuousClock.now - started, ok: false)
            guard writes.count > 1 else {
                errors[writes[0].0] = error
                return (errors, [])
            }
            // Find the failing write(s): each on its own.
            for (index, work) in writes {
                do throws(CoreError) {
                    try database.transaction { () throws(CoreError) in try work(database) }
                } catch {
                    errors[index] = error
                }
            }
        }
        let actions = zip(batch, errors).compactMap { write, error in error == nil ? write.afterCommit : nil }
        return (errors, actions)
    }
}
