import Dispatch
import Foundation

/// Makes many callers' writes durable together: the callers' `work` runs in one shared
/// transaction and one fsync covers the whole batch. A caller returns only after its work is on
/// disk. If a write fails, the batch is rolled back and its writes are committed again one by
/// one, so that only the failing write fails.
///
/// There is no thread of its own: the first waiting caller to find no commit running becomes
/// the leader, commits everything pending (its own work and whatever arrived meanwhile), runs
/// the batch's `afterCommit` actions in submission order, wakes exactly the callers of that
/// batch, and hands the lead to the oldest caller still pending. Under load every fsync
/// carries as many writes as arrived during the previous one. Writes commit in the order they
/// were enqueued, so a caller that enqueues under its own lock gets its changes (and their
/// after-commit actions) applied in the same order as its in-memory changes.
final class GroupCommit: @unchecked Sendable {
    /// One submitted write. `afterCommit` runs (on the leader's thread, in submission order)
    /// only if the write was committed; it must not block.
    private struct Write {
        let work: (SQLiteDatabase) throws(CoreError) -> Void
        let afterCommit: (@Sendable () -> Void)?
        let ticket: Ticket
    }

    /// A write that was enqueued; ``wait(_:)`` for it.
    final class Ticket: @unchecked Sendable {
        // Guarded by the commit's lock.
        fileprivate var done = false
        fileprivate var error: CoreError?
        /// Signalled when the write is done, or when its owner should take the lead.
        fileprivate let wake = DispatchSemaphore(value: 0)
    }

    private let database: SQLiteDatabase
    private let lock = NSLock()
    // Guarded by `lock`.
    private var pending: [Write] = []
    private var committing = false
    private var lastTicket: Ticket?

    /// Takes ownership of `database`: from now on only this object uses it.
    init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Runs `work` in the next batch and returns once it is durable.
    /// - Throws: the error `work` threw, or the commit's error (then nothing of the batch was written).
    func submit(
        _ work: @escaping (SQLiteDatabase) throws(CoreError) -> Void, afterCommit: (@Sendable () -> Void)? = nil
    ) throws(CoreError) {
        try wait(enqueue(work, afterCommit: afterCommit))
    }

    /// Queues `work` for the next batch without waiting (cheap: callable under the caller's locks).
    func enqueue(_ work: @escaping (SQLiteDatabase) throws(CoreError) -> Void, afterCommit: (@Sendable () -> Void)? = nil) -> Ticket {
        let ticket = Ticket()
        lock.lock()
        pending.append(Write(work: work, afterCommit: afterCommit, ticket: ticket))
        lastTicket = ticket
        lock.unlock()
        return ticket
    }

    /// The last write queued (it may be durable already).
    var lastEnqueued: Ticket? {
        lock.lock()
        defer { lock.unlock() }
        return lastTicket
    }

    /// Returns once the ticket's write is durable (committing it, and whatever else is
    /// pending, if no commit is running).
    /// - Throws: the error its work threw, or the commit's error.
    func wait(_ ticket: Ticket) throws(CoreError) {
        lock.lock()
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
                if write.ticket !== ticket { write.ticket.wake.signal() }
            }
            committing = false
            pending.first?.ticket.wake.signal()  // the next leader
        }
        let error = ticket.error
        lock.unlock()
        if let error { throw error }
    }

    /// Commits one batch and returns each write's error and the after-commit actions of the
    /// writes that were committed.
    private func commit(_ batch: [Write]) -> ([CoreError?], [@Sendable () -> Void]) {
        var errors = [CoreError?](repeating: nil, count: batch.count)
        do throws(CoreError) {
            try database.transaction { () throws(CoreError) in
                for write in batch { try write.work(database) }
            }
        } catch {
            guard batch.count > 1 else { return ([error], []) }
            // Find the failing write(s): each on its own.
            for (index, write) in batch.enumerated() {
                do throws(CoreError) {
                    try database.transaction { () throws(CoreError) in try write.work(database) }
                } catch {
                    errors[index] = error
                }
            }
        }
        let actions = zip(batch, errors).compactMap { write, error in error == nil ? write.afterCommit : nil }
        return (errors, actions)
    }
}
